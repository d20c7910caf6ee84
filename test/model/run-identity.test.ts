// What a run is about and how it ended, read from each workflow's input and result (model/run-identity.ts).
import { describe, expect, it } from '@jest/globals';
import { completedRun, describeRun, runIdentity } from '../../model/run-identity.js';

describe('runIdentity', () => {
  it('names a runbook document run after its document, with the cluster and app of its parameters', () => {
    const id = runIdentity('runbook', {
      document: { metadata: { name: 'etcd-backup' } },
      parameters: { cluster: 'primary', count: 3 },
      startedBy: 'alice',
    });
    expect(id).toEqual({ runbook: 'runbook/etcd-backup', cluster: 'primary', app: undefined, startedBy: 'alice' });
  });

  it('a failover is about its app and the cluster it leaves; a health check of one cluster about that cluster', () => {
    expect(runIdentity('failover', { app: 'shop', from: 'primary', to: 'standby', requestedBy: 'bob' })).toEqual({
      runbook: 'failover',
      cluster: 'primary',
      app: 'shop',
      startedBy: 'bob',
    });
    expect(runIdentity('clusterHealth', { clusters: ['standby'] }).cluster).toBe('standby');
    expect(runIdentity('clusterHealth', { clusters: ['primary', 'standby'] }).cluster).toBeUndefined();
    expect(runIdentity('gameDay', undefined)).toEqual({ runbook: 'gameDay', cluster: undefined, app: undefined, startedBy: undefined });
  });

  it('describes a run for a person', () => {
    expect(describeRun({ runbook: 'failover', cluster: 'primary', app: 'shop' })).toBe('failover of shop on primary');
    expect(describeRun({ runbook: 'gameDay' })).toBe('gameDay');
  });
});

describe('completedRun', () => {
  it('a game day that missed its objectives, with its worst RTO', () => {
    const report = {
      passed: false,
      entries: [{ verification: { rtoSeconds: 40 } }, { verification: { rtoSeconds: 95 } }, { name: 'no verification' }],
    };
    expect(completedRun({ report, stored: {} })).toEqual({ outcome: 'objectives-missed', rtoSeconds: 95 });
  });

  it('a verification that found a difference, an unhealthy cluster and an unfenced source missed; a failover with its RTO succeeded', () => {
    expect(completedRun({ passed: false }).outcome).toBe('objectives-missed');
    expect(completedRun({ healthy: false }).outcome).toBe('objectives-missed');
    expect(completedRun({ status: 'source-unfenced', rtoSeconds: 30 })).toEqual({ outcome: 'objectives-missed', rtoSeconds: 30 });
    expect(completedRun({ status: 'completed', rtoSeconds: 12.5 })).toEqual({ outcome: 'succeeded', rtoSeconds: 12.5 });
    expect(completedRun(undefined)).toEqual({ outcome: 'succeeded', rtoSeconds: undefined });
  });
});
