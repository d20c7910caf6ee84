// Connection options and the data converter for Temporal from configuration, shared by the worker, the
// CLI, the codec server and every test and script, so all of them work unchanged against the lab's dev
// server, a self-hosted cluster with mTLS, or Temporal Cloud, and all read and write the same encrypted
// history.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client, Connection, type ClientOptions, type ConnectionOptions } from '@temporalio/client';
import type { DataConverter, LoadedDataConverter, Payload } from '@temporalio/common';
import { decode, decodeFromPayloadsAtIndex, type TLSConfig } from '@temporalio/common/lib/internal-non-workflow/index.js';
import { HistoryCodec } from './codec.js';
import type { LifeboatConfig } from './config.js';
import { loadKeyRing, type KeyRing } from './keys.js';
import { readSecretFile } from './secret-files.js';

/** Options both Connection (client) and NativeConnection (worker) accept. */
export interface TemporalConnectionOptions {
  address: string;
  apiKey?: string;
  tls?: TLSConfig | boolean;
}

/**
 * The connection the configuration describes: the API key inline, from LIFEBOAT_TEMPORAL_API_KEY or from
 * `apiKeyFile` (a mounted Secret), mTLS from certificate and key files; the secret files are refused when
 * others may read them (worker/secret-files.ts). Read at every connect, so a rotated Secret takes effect
 * on the next start.
 */
export function temporalConnectionOptions(config: LifeboatConfig): TemporalConnectionOptions {
  const { address, tls, apiKeyFile } = config.temporal;
  const apiKey = config.temporal.apiKey ?? (apiKeyFile ? readSecretFile(apiKeyFile, 'Temporal API key file').trim() : undefined);
  const options: TemporalConnectionOptions = { address };
  if (apiKey) options.apiKey = apiKey;
  if (tls) {
    options.tls = {
      serverNameOverride: tls.serverName,
      serverRootCACertificate: tls.serverRootCaFile ? readFileSync(tls.serverRootCaFile) : undefined,
      clientCertPair:
        tls.clientCertFile && tls.clientKeyFile
          ? { crt: readFileSync(tls.clientCertFile), key: Buffer.from(readSecretFile(tls.clientKeyFile, 'Temporal client key file')) }
          : undefined,
    };
  } else if (apiKey) {
    options.tls = true;
  }
  return options;
}

/** The module whose `failureConverter` puts failure messages into an encoded (so encrypted) payload. */
export const failureConverterPath = fileURLToPath(new URL('./failure-converter.js', import.meta.url));

/**
 * The data converter every Temporal client and worker of Lifeboat uses: failure messages as payloads,
 * and with an `encryption` block every payload sealed by the history codec. Without one, history stays
 * in clear (the worker warns). `keyRing` saves reading the key files again where they are loaded already.
 */
export function dataConverterFor(config: LifeboatConfig, keyRing?: KeyRing): DataConverter {
  const ring = keyRing ?? (config.encryption ? loadKeyRing(config.encryption) : undefined);
  return { failureConverterPath, payloadCodecs: ring ? [new HistoryCodec(ring)] : [] };
}

/** A Temporal client with its own connection (also for the operator service); close it with `client.connection.close()`. */
export type LifeboatClient = Client & { readonly connection: Connection };

/**
 * The one way Lifeboat's CLI, tests and scripts make a Temporal client: the configured connection and
 * Lifeboat's data converter, for the configured namespace unless `options.namespace` names another.
 */
export async function temporalClient(
  config: LifeboatConfig,
  options: Pick<ConnectionOptions, 'connectTimeout'> & Pick<ClientOptions, 'interceptors'> & { namespace?: string; identity?: string } = {},
): Promise<LifeboatClient> {
  const { namespace = config.temporal.namespace, identity, interceptors, ...connectionOptions } = options;
  const dataConverter = dataConverterFor(config);
  const connection = await Connection.connect({ ...temporalConnectionOptions(config), ...connectionOptions });
  return new Client({ connection, namespace, dataConverter, interceptors, ...(identity ? { identity } : {}) }) as LifeboatClient;
}

/** What decodes payloads: a Client, a WorkflowClient or a handle's `client`. */
interface DecodingClient {
  options: { loadedDataConverter: LoadedDataConverter };
}

/**
 * The value in one payload read from a raw API response (describe's heartbeat details, a history event),
 * decoded with the client's data converter: raw responses carry payloads as stored, encrypted.
 */
export function decodePayload<T>(client: DecodingClient, payload: Payload): Promise<T> {
  return decodeFromPayloadsAtIndex<T>(client.options.loadedDataConverter, 0, [payload]);
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}
const isJsonPayload = (v: unknown): v is JsonPayload =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as JsonPayload).metadata === 'object' &&
  typeof (v as JsonPayload).metadata?.encoding === 'string' &&
  Object.keys(v).every((k) => k === 'metadata' || k === 'data' || k === 'externalPayloads');

/**
 * A history in Temporal's JSON form (`historyToJSON`) with every payload opened by the client's codecs:
 * what a replay needs without the keys, and what a person reads.
 */
export async function decodeHistoryJSON(client: DecodingClient, json: string): Promise<string> {
  const { payloadCodecs } = client.options.loadedDataConverter;
  const found: JsonPayload[] = [];
  const walk = (v: unknown) => {
    if (isJsonPayload(v)) found.push(v);
    else if (typeof v === 'object' && v !== null) Object.values(v).forEach(walk);
  };
  const history = JSON.parse(json) as unknown;
  walk(history);
  const fromBase64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64');
  const payloads: Payload[] = found.map((p) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, fromBase64(v)])),
    data: fromBase64(p.data),
  }));
  const decoded = await decode(payloadCodecs, payloads);
  found.forEach((p, i) => {
    const d = decoded[i]!;
    p.metadata = Object.fromEntries(Object.entries(d.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
    p.data = Buffer.from(d.data ?? []).toString('base64');
  });
  return JSON.stringify(history, null, 2);
}
