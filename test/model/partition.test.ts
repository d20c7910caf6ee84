// Unit: the networkPartition decision table (model/partition.ts), row by row, and how a site witness's
// record is judged (fresh, stale, missing).
import { describe, expect, it } from '@jest/globals';
import {
  decidePartition,
  judgeWitnessRecord,
  siteWitnessAnnotations,
  type PartitionWitnesses,
  type ReachabilityWitness,
  type SiteWitnessView,
} from '../../model/partition.js';

const up = (component: string): ReachabilityWitness => ({
  component,
  address: 'x',
  state: 'reachable',
  healthy: true,
  detail: 'ok',
  tookMs: 3,
});
const down = (component: string): ReachabilityWitness => ({
  component,
  address: 'x',
  state: 'unreachable',
  healthy: false,
  detail: 'no answer within 5 s',
  tookMs: 5000,
});
const view = (state: SiteWitnessView['state']): SiteWitnessView => ({ cluster: 'standby', peer: 'primary', state, detail: state });

/** Every witness sees everything: the healthy world; each row changes what it needs. */
const world = (over: Partial<PartitionWitnesses> = {}): PartitionWitnesses => ({
  from: 'primary',
  to: 'standby',
  sourceApi: up('api/primary'),
  sourceEtcd: up('etcd/primary'),
  targetApi: up('api/standby'),
  targetEtcd: up('etcd/standby'),
  objectStore: up('object-store'),
  standbyView: view('reachable'),
  ...over,
});
const dead = { sourceApi: down('api/primary'), sourceEtcd: down('etcd/primary'), standbyView: view('unreachable') };

describe('decidePartition', () => {
  it('source reachable from nowhere, the worker reaching the standby and the object store: dead, fail over with force', () => {
    const d = decidePartition(world(dead));
    expect(d).toMatchObject({ row: 'source-dead', failover: true, fence: true });
    expect(d.detail).toMatch(/reachable from nowhere/);
    expect(d.witnesses).toHaveLength(6);
    expect(d.witnesses[0]).toBe('api/primary from the worker: unreachable (no answer within 5 s)');
  });

  it('source reachable by the worker but not by the standby: a partition between sites, nothing fenced', () => {
    const d = decidePartition(world({ standbyView: view('unreachable') }));
    expect(d).toMatchObject({ row: 'partition-between-sites', failover: false, fence: false });
    expect(d.detail).toMatch(/^PARTITION between sites/);
  });

  it('the worker reaching nothing: it is the one isolated, nothing done', () => {
    const all = { sourceApi: down('a'), sourceEtcd: down('b'), targetApi: down('c'), targetEtcd: down('d'), objectStore: down('e') };
    const d = decidePartition(world({ ...all, standbyView: view('unreadable') }));
    expect(d).toMatchObject({ row: 'worker-isolated', failover: false, fence: false });
    // What the standby's record says cannot matter: the worker could not have read it.
    expect(decidePartition(world({ ...all, standbyView: view('unreachable') })).row).toBe('worker-isolated');
  });

  it('source reachable by both: healthy', () => {
    expect(decidePartition(world())).toMatchObject({ row: 'source-healthy', failover: false });
  });

  it("source reachable by the worker, the standby's witness stale, missing or unreadable: alive, no failover", () => {
    for (const s of ['stale', 'missing', 'unreadable', 'error'] as const)
      expect(decidePartition(world({ standbyView: view(s) })).row).toBe('standby-view-unknown');
  });

  it('the worker cut from the source that the standby still sees: alive, no failover', () => {
    expect(decidePartition(world({ ...dead, standbyView: view('reachable') })).row).toBe('worker-cut-from-source');
  });

  it("source unreachable from the worker and the standby's witness stale: cannot tell, nothing done", () => {
    for (const s of ['stale', 'missing', 'unreadable'] as const) {
      const d = decidePartition(world({ ...dead, standbyView: view(s) }));
      expect(d).toMatchObject({ row: 'source-view-unknown', failover: false });
    }
  });

  it("the source's etcd still answering the worker: not dead", () => {
    expect(decidePartition(world({ ...dead, sourceEtcd: up('etcd/primary') })).row).toBe('source-partly-reachable');
  });

  it('the object store unreachable from the worker: its view cannot confirm a death', () => {
    const d = decidePartition(world({ ...dead, objectStore: down('object-store') }));
    expect(d).toMatchObject({ row: 'worker-impaired', failover: false });
    expect(d.detail).toMatch(/object-store unreachable/);
  });

  it('an API that answers not ready still counts as reachable: alive', () => {
    const notReady = { ...up('api/primary'), healthy: false };
    expect(decidePartition(world({ sourceApi: notReady })).row).toBe('source-healthy');
    expect(decidePartition(world({ sourceApi: notReady, standbyView: view('unreachable') })).row).toBe('partition-between-sites');
  });
});

describe('judgeWitnessRecord', () => {
  const now = new Date('2026-12-07T09:00:00.000Z');
  const lease = (renewedSecondsAgo: number, state = 'unreachable') => ({
    metadata: {
      annotations: {
        [siteWitnessAnnotations.state]: state,
        [siteWitnessAnnotations.since]: '2026-12-07T08:55:00.000Z',
        [siteWitnessAnnotations.detail]: 'no answer within 3 s',
      },
    },
    spec: { holderIdentity: 'witness-1', renewTime: new Date(now.getTime() - renewedSecondsAgo * 1000), leaseDurationSeconds: 15 },
  });

  it('a fresh record says what the witness saw and since when', () => {
    expect(judgeWitnessRecord('standby', 'primary', lease(4), now)).toEqual({
      cluster: 'standby',
      peer: 'primary',
      state: 'unreachable',
      observed: 'unreachable',
      since: '2026-12-07T08:55:00.000Z',
      renewedAt: '2026-12-07T08:59:56.000Z',
      ageSeconds: 4,
      staleAfterSeconds: 15,
      holder: 'witness-1',
      detail: "'standby' sees 'primary' unreachable since 2026-12-07T08:55:00.000Z (no answer within 3 s); renewed 4 s ago",
    });
  });

  it('a record not renewed within its lease duration is stale: the witness itself is down', () => {
    const v = judgeWitnessRecord('standby', 'primary', lease(16, 'reachable'), now);
    expect(v).toMatchObject({ state: 'stale', observed: 'reachable', ageSeconds: 16 });
    expect(v.detail).toMatch(/the witness itself is down/);
  });

  it('a Lease without an observation is missing', () => {
    expect(judgeWitnessRecord('standby', 'primary', { spec: {} }, now).state).toBe('missing');
  });
});
