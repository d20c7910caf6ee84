// `lifeboat witness`: the site witness of the networkPartition runbook. Runs in each cluster (a
// Deployment: deploy/kubernetes/witness), asks its peer's API /readyz every few seconds through the
// address this site's network reaches it by, and writes what it saw into the Lease
// lifeboat-system/peer-<peer> of its own cluster (state, since, renewTime). The runbook reads that Lease
// through this cluster's API: a fresh record is this site's view of the other; a stale one says the
// witness itself is down. Runs until SIGTERM or SIGINT.
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { CoordinationV1Api, KubeConfig } from '@kubernetes/client-node';
import { askApiReady, peerKubeConfig, recordPeerCheck } from '../activities/kubernetes/site-witness.js';
import { siteWitnessLeaseName, siteWitnessNamespace, type PeerObservation } from '../model/partition.js';
import { createLogger } from '../worker/logging.js';
import { CliError, exitCodes } from './output.js';

interface WitnessOptions {
  cluster: string;
  peer: string;
  peerUrl: string;
  peerCaFile?: string;
  kubeconfig?: string;
  interval: string;
  timeout: string;
  staleAfter?: string;
  holder?: string;
}

const wholeSeconds = (flag: string, value: string, min: number): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new CliError(`${flag} '${value}': expected a whole number of seconds, at least ${min}`, exitCodes.badInput);
  return n;
};

export function registerWitnessCommand(program: Command): void {
  program
    .command('witness')
    .description("the networkPartition runbook's site witness: record this cluster's view of its peer's API in a Lease, until SIGTERM")
    .requiredOption('--cluster <name>', 'the cluster this witness runs in (as Lifeboat names it)')
    .requiredOption('--peer <name>', 'the cluster it watches (the Lease is lifeboat-system/peer-<name>)')
    .requiredOption('--peer-url <url>', "the peer's API server, as this site's network reaches it (https://host:port)")
    .option('--peer-ca-file <file>', "the CA that signed the peer API's certificate (default: the system's CAs)")
    .option('--kubeconfig <file>', "this cluster's kubeconfig (default: the Pod's ServiceAccount)")
    .option('--interval <seconds>', 'how often it asks', '5')
    .option('--timeout <seconds>', 'how long one question may take; less than --interval', '3')
    .option(
      '--stale-after <seconds>',
      'after how long without renewal the record counts as stale (the Lease duration; default 3 x --interval)',
    )
    .option('--holder <name>', "who holds the Lease (default: this host's name, the Pod's)")
    .action(async (opts: WitnessOptions) => {
      const interval = wholeSeconds('--interval', opts.interval, 1);
      const timeout = wholeSeconds('--timeout', opts.timeout, 1);
      if (timeout >= interval) throw new CliError(`--timeout ${timeout} must be less than --interval ${interval}`, exitCodes.badInput);
      const staleAfter = opts.staleAfter === undefined ? 3 * interval : wholeSeconds('--stale-after', opts.staleAfter, interval + 1);
      let url: URL;
      try {
        url = new URL(opts.peerUrl);
      } catch {
        throw new CliError(`--peer-url '${opts.peerUrl}': expected an https URL of the peer's API server`, exitCodes.badInput);
      }
      if (url.protocol !== 'https:') throw new CliError(`--peer-url '${opts.peerUrl}': expected https`, exitCodes.badInput);
      const own = new KubeConfig();
      if (opts.kubeconfig) own.loadFromFile(opts.kubeconfig);
      else if (process.env.KUBERNETES_SERVICE_HOST) own.loadFromCluster();
      else throw new CliError('not in a Pod: give --kubeconfig for the cluster this witness runs in', exitCodes.badInput);
      const leases = own.makeApiClient(CoordinationV1Api);
      const peer = peerKubeConfig(opts.peerUrl, opts.peerCaFile);
      const record = {
        observer: opts.cluster,
        peer: opts.peer,
        address: opts.peerUrl,
        holder: opts.holder ?? hostname(),
        staleAfterSeconds: staleAfter,
      };
      const logger = createLogger().child({ component: 'witness', cluster: opts.cluster, peer: opts.peer });
      const stop = new AbortController();
      for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => stop.abort());
      logger.info(
        { lease: `${siteWitnessNamespace}/${siteWitnessLeaseName(opts.peer)}`, peerUrl: opts.peerUrl, interval, staleAfter },
        'witness started',
      );
      let last: PeerObservation | undefined;
      while (!stop.signal.aborted) {
        const started = Date.now();
        const seen = await askApiReady(peer, timeout * 1000);
        const detail = seen.state === 'reachable' ? `${seen.detail} in ${seen.tookMs} ms` : seen.detail;
        if (seen.state !== last) logger.info({ state: seen.state, detail }, `'${opts.peer}' ${seen.state}`);
        last = seen.state;
        try {
          await recordPeerCheck(leases, record, { state: seen.state, detail, at: new Date() });
        } catch (err) {
          // Not renewed, the record goes stale: the runbook says the witness is down, which is the truth.
          logger.warn({ err: (err as Error).message }, 'could not write the Lease');
        }
        const wait = Math.max(0, interval * 1000 - (Date.now() - started));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          stop.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      logger.info('witness stopped');
    });
}
