// Integration (lab: kube-apiserver/primary and /standby): the site witness's two halves against real
// servers. Asking a peer's /readyz tells an answer, silence (a black hole: a listener that accepts and
// never answers), a refusal (a port nobody listens on) and a question that could not be asked (the
// wrong CA) apart; the record keeps `since` while the state holds and moves it when the state changes.
import { createServer } from 'node:net';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { askApiReady, peerKubeConfig, recordPeerCheck } from '../../../activities/kubernetes/site-witness.js';
import { siteWitnessAnnotations, siteWitnessLeaseName, siteWitnessNamespace } from '../../../model/partition.js';
import { clusterPaths } from '../../../lab/topology.js';
import { adminKubeConfig } from '../../helpers/lab.js';
import { startTcpFault, type TcpFault } from '../../helpers/tcp-fault.js';
import { testClusterName } from '../../helpers/test-cluster.js';

const primaryServer = (
  parse(readFileSync(clusterPaths('primary').kubeconfig('admin'), 'utf8')) as { clusters: { cluster: { server: string } }[] }
).clusters[0]!.cluster.server;
const leases = adminKubeConfig('standby').makeApiClient(CoordinationV1Api);
const peer = testClusterName('witness');
let hole: TcpFault;
let closedPort: number;

beforeAll(async () => {
  hole = await startTcpFault();
  // A port that was just free: nobody listens there, so a connection is refused at once.
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  closedPort = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
});
afterAll(async () => {
  await hole?.close();
  await leases.deleteNamespacedLease({ name: siteWitnessLeaseName(peer), namespace: siteWitnessNamespace }).catch(() => undefined);
});

describe('askApiReady', () => {
  it('a peer API that answers is reachable and ready, without credentials', async () => {
    expect(await askApiReady(peerKubeConfig(primaryServer, clusterPaths('primary').caCert), 3000)).toMatchObject({
      state: 'reachable',
      healthy: true,
      detail: '/readyz ok',
    });
  });

  it('a black hole is unreachable once the deadline passes, not before', async () => {
    const seen = await askApiReady(peerKubeConfig(hole.url, clusterPaths('primary').caCert), 1500);
    expect(seen).toMatchObject({ state: 'unreachable', healthy: false, detail: 'no answer within 1.5 s' });
    expect(seen.tookMs).toBeGreaterThanOrEqual(1400);
    expect(hole.accepted).toBeGreaterThan(0);
  });

  it('a refused connection is unreachable at once', async () => {
    const seen = await askApiReady(peerKubeConfig(`https://127.0.0.1:${closedPort}`, clusterPaths('primary').caCert), 3000);
    expect(seen).toMatchObject({ state: 'unreachable', detail: 'connection refused' });
    expect(seen.tookMs).toBeLessThan(1000);
  });

  it("a certificate the witness does not trust is an error of the witness's, not evidence the peer is gone", async () => {
    const seen = await askApiReady(peerKubeConfig(primaryServer, clusterPaths('standby').caCert), 3000);
    expect(seen.state).toBe('error');
  });
});

describe('recordPeerCheck', () => {
  const record = { observer: 'standby', peer, address: primaryServer, holder: 'jest', staleAfterSeconds: 15 };
  const annotations = async () =>
    (await leases.readNamespacedLease({ name: siteWitnessLeaseName(peer), namespace: siteWitnessNamespace })).metadata!.annotations!;

  it('creates the Lease, keeps since while the state holds, and moves it when the state changes', async () => {
    const t0 = new Date(Date.now() - 10_000);
    await recordPeerCheck(leases, record, { state: 'reachable', detail: '/readyz ok', at: t0 });
    await recordPeerCheck(leases, record, { state: 'reachable', detail: '/readyz ok', at: new Date(t0.getTime() + 5000) });
    expect(await annotations()).toMatchObject({
      [siteWitnessAnnotations.state]: 'reachable',
      [siteWitnessAnnotations.since]: t0.toISOString(),
    });
    const t1 = new Date();
    const lease = await recordPeerCheck(leases, record, { state: 'unreachable', detail: 'no answer within 3 s', at: t1 });
    expect(await annotations()).toMatchObject({
      [siteWitnessAnnotations.state]: 'unreachable',
      [siteWitnessAnnotations.since]: t1.toISOString(),
      [siteWitnessAnnotations.detail]: 'no answer within 3 s',
      [siteWitnessAnnotations.observer]: 'standby',
    });
    expect(lease.spec).toMatchObject({ holderIdentity: 'jest', leaseDurationSeconds: 15 });
    expect(new Date(lease.spec!.renewTime!).getTime()).toBe(t1.getTime());
  });
});
