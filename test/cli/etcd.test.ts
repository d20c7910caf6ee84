// Integration (the lab's configuration; no worker, nothing started): `lifeboat etcd restore |
// replace-member` refuse bad arguments with a message naming the argument and what it expects, exit 2,
// before anything starts; and the restore report's summary (RTO, RPO, API unavailability) from a report.
import { userInfo } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { etcdRestoreSummary } from '../../cli/etcd.js';
import type { RunbookReport } from '../../model/runbook/run.js';
import { labConfig, lifeboat } from '../helpers/lab.js';

const restore = ['etcd', 'restore', '--cluster', 'primary', '--reason', 'r'];

describe('lifeboat etcd: bad input', () => {
  it.each([
    [
      ['etcd', 'restore', '--cluster', 'nosuch', '--reason', 'r'],
      "lifeboat: --cluster: unknown cluster 'nosuch'; configured clusters: primary, standby",
    ],
    [
      [...restore, '--snapshot', 'a', '--before', '2026-12-01T00:00:00Z'],
      'lifeboat: --snapshot and --before exclude each other: name a snapshot, or a time to restore from before',
    ],
    [
      [...restore, '--before', '2026-12-01 10:00'],
      "lifeboat: --before '2026-12-01 10:00': expected an ISO-8601 date-time with a zone, such as 2026-12-01T09:00:00Z",
    ],
    [[...restore, '--snapshot', '../x'], "lifeboat: --snapshot '../x': expected a snapshot id, as `lifeboat snapshots list` prints it"],
    [['etcd', 'restore', '--cluster', 'primary', '--reason', ' '], 'lifeboat: --reason: expected why, recorded in the report'],
    [[...restore, '--auto-approve'], 'lifeboat: --auto-approve needs --approver NAME: who approves, recorded in the report'],
    [[...restore, '--approver', 'x'], 'lifeboat: --approver goes with --auto-approve'],
    [
      ['etcd', 'replace-member', '--cluster', 'primary', '--member', 'nosuch', '--reason', 'r'],
      "lifeboat: --member 'nosuch': expected one of the etcd members of 'primary': primary-0, primary-1, primary-2",
    ],
    [
      ['etcd', 'replace-member', '--cluster', 'primary', '--member', 'primary-0', '--reason', 'r', '--catch-up-timeout', '5m'],
      "lifeboat: --catch-up-timeout '5m': expected whole seconds, at least 1",
    ],
  ])('%j exits 2: %s', async (args, message: string) => {
    const result = await lifeboat(args);
    expect([result.exitCode, result.stdout, result.stderr]).toEqual([2, '', message]);
  });

  it('an approver named up front (--auto-approve --approver) must be of group:sre and not who starts the restore: exit 2, nothing started', async () => {
    const env = { LIFEBOAT_RUNBOOKS_DIR: fileURLToPath(new URL('../../../runbooks/', import.meta.url)) };
    const me = userInfo().username;
    const sre = labConfig().runbooks.approverGroups.sre!;
    const own = await lifeboat([...restore, '--auto-approve', '--approver', me], env);
    const stranger = await lifeboat([...restore, '--auto-approve', '--approver', 'mallory'], env);
    expect([own, stranger].map((r) => [r.exitCode, r.stdout, r.stderr])).toEqual([
      [
        2,
        '',
        `lifeboat: --approver '${me}' refused: '${me}' started this run and may not approve it too (four eyes: another approver must)`,
      ],
      [2, '', `lifeboat: --approver 'mallory' refused: 'mallory' is not an approver (approvers: ${sre.join(', ')})`],
    ]);
  });

  it('restore without --reason: commander names the option', async () => {
    const result = await lifeboat(['etcd', 'restore', '--cluster', 'primary']);
    expect([result.exitCode, result.stderr.split('\n')[0]]).toEqual([2, "error: required option '--reason <text>' not specified"]);
  });
});

describe('etcdRestoreSummary', () => {
  const step = (id: string, startedAt: string, finishedAt: string, outputs?: Record<string, unknown>) => ({
    path: id,
    id,
    kind: 'action' as const,
    state: 'succeeded' as const,
    startedAt,
    finishedAt,
    ...(outputs ? { outputs } : {}),
  });
  const plan = {
    snapshot: { snapshotId: 's1', startedAt: '2026-12-01T09:00:00.000Z', fileRevision: 1200 },
    members: [{ name: 'm0', movedAsideTo: '/var/lib/etcd.lifeboat-abc' }],
  };
  const report = {
    steps: [
      step('preflight', '2026-12-01T10:00:00.000Z', '2026-12-01T10:00:10.000Z', { plan }),
      { ...step('stop-controllers', '2026-12-01T10:00:58.000Z', '2026-12-01T10:01:00.000Z'), kind: 'parallel' },
      step('stop-apiservers', '2026-12-01T10:01:00.000Z', '2026-12-01T10:01:02.000Z'),
      step('quorum', '2026-12-01T10:01:30.000Z', '2026-12-01T10:01:40.000Z', { revision: 1_000_001_200 }),
      step('api', '2026-12-01T10:01:45.000Z', '2026-12-01T10:01:50.000Z', {
        apiReadyAt: '2026-12-01T10:01:48.000Z',
        resourceVersion: 1_000_001_210,
      }),
      step('verify', '2026-12-01T10:01:55.000Z', '2026-12-01T10:02:30.000Z'),
    ],
  } as unknown as RunbookReport;

  it('RTO from the controllers stopped to the workloads proved, the API window to /readyz, RPO the snapshot’s age at the stop', () => {
    expect(etcdRestoreSummary(report)).toEqual({
      snapshotId: 's1',
      snapshotTakenAt: '2026-12-01T09:00:00.000Z',
      snapshotRevision: 1200,
      restoredRevision: 1_000_001_200,
      resourceVersion: 1_000_001_210,
      rtoSeconds: 92,
      rpoSeconds: 3660,
      apiUnavailableSeconds: 48,
      steps: [
        { id: 'preflight', seconds: 10 },
        { id: 'stop-apiservers', seconds: 2 },
        { id: 'quorum', seconds: 10 },
        { id: 'api', seconds: 5 },
        { id: 'verify', seconds: 35 },
      ],
      movedAside: [{ member: 'm0', to: '/var/lib/etcd.lifeboat-abc' }],
    });
  });

  it('nothing to sum up before the preflight planned', () => {
    expect(etcdRestoreSummary({ steps: [] } as unknown as RunbookReport)).toBeUndefined();
  });
});
