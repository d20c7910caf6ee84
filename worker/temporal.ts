// Connection options for Temporal from configuration, shared by the worker and the CLI, so both work
// unchanged against the lab's dev server, a self-hosted cluster with mTLS, or Temporal Cloud.
import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow/index.js';
import type { LifeboatConfig } from './config.js';

/** Options both Connection (client) and NativeConnection (worker) accept. */
export interface TemporalConnectionOptions {
  address: string;
  apiKey?: string;
  tls?: TLSConfig | boolean;
}

export function temporalConnectionOptions(config: LifeboatConfig): TemporalConnectionOptions {
  const { address, apiKey, tls } = config.temporal;
  const options: TemporalConnectionOptions = { address };
  if (apiKey) options.apiKey = apiKey;
  if (tls) {
    options.tls = {
      serverNameOverride: tls.serverName,
      serverRootCACertificate: tls.serverRootCaFile ? readFileSync(tls.serverRootCaFile) : undefined,
      clientCertPair:
        tls.clientCertFile && tls.clientKeyFile
          ? { crt: readFileSync(tls.clientCertFile), key: readFileSync(tls.clientKeyFile) }
          : undefined,
    };
  } else if (apiKey) {
    options.tls = true;
  }
  return options;
}
