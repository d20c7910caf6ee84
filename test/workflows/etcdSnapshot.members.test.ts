// Integration (lab: Temporal, the drill cluster's 3-member etcd, MinIO; a worker of its own): snapshots and
// the health check of a cluster whose etcd has several members. A snapshot is streamed from one member
// that answers and follows a leader (a follower before the leader) and its manifest names that member;
// with one member killed the health check says which and that the quorum holds, and a snapshot is
// still taken, from a member that answers; with two killed it says the quorum is lost and the snapshot
// is refused in preflight. Ends with every member running again.
// lab: drill (kills members of the drill cluster's etcd): runs in the drill lane, one suite at a time, beside the other suites (test/run.sh).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WorkflowFailedError } from '@temporalio/client';
import { createEtcdHealthActivities, etcdEndpointAnswers } from '../../activities/etcd/health.js';
import { activityDeps } from '../../activities/deps.js';
import { drillUp } from '../../lab/lab.js';
import { runningPid } from '../../lab/processes.js';
import { etcdMembersOf, drillCluster } from '../../lab/topology.js';
import { rootFailure } from '../../model/failure-chain.js';
import type { etcdSnapshot } from '../../workflows/etcdSnapshot.js';
import { createClients } from '../../worker/clients.js';
import { drillConfig, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { killLabProcess } from '../helpers/processes.js';

const config = drillConfig();
const clients = createClients(config);
const deps = activityDeps(clients, undefined);
const health = createEtcdHealthActivities(deps);
const members = etcdMembersOf(drillCluster);
let w: TestWorker;

beforeAll(async () => {
  await drillUp();
  w = await startTestWorker(undefined, drillConfig);
}, 300_000);
afterAll(async () => {
  await w?.stop();
  clients.s3.destroy();
  // Every member back, whatever a test left.
  await drillUp();
}, 300_000);

const snapshot = () =>
  w.client.workflow.execute<typeof etcdSnapshot>('etcdSnapshot', {
    taskQueue: w.config.temporal.taskQueue,
    workflowId: `etcd-snapshot/drill/test-members-${Date.now()}-${randomBytes(3).toString('hex')}`,
    args: [{ cluster: 'drill', skipRetention: true }],
    workflowExecutionTimeout: '5 minutes',
  });

/** Until the members that answer agree on a leader again (after a kill that may have taken the leader). */
async function leaderAgreed(): Promise<void> {
  for (const deadline = Date.now() + 30_000; ; await new Promise((r) => setTimeout(r, 500))) {
    const answers = await etcdEndpointAnswers(deps, 'drill');
    const leaders = new Set(answers.flatMap((a) => ('status' in a ? [a.status.leaderId] : [])));
    if (leaders.size === 1 && !leaders.has('0')) return;
    if (Date.now() > deadline) throw new Error(`no agreed leader within 30 s: ${JSON.stringify(answers)}`);
  }
}

describe("a 3-member etcd (the lab's drill cluster)", () => {
  it('all members answer: healthy, and the snapshot comes from a follower, named in its manifest', async () => {
    expect(members.map((m) => m.daemon)).toEqual(['etcd/drill-0', 'etcd/drill-1', 'etcd/drill-2']);
    const checked = await health.checkEtcd({ cluster: 'drill' });
    expect([checked.healthy, checked.quorum, checked.members.length]).toEqual([true, true, 3]);
    expect(checked.detail).toMatch(/^3\/3 members answered, v3\.5\.21, revision \d+/);
    const leader = checked.members.find((m) => m.isLeader)!;

    const { manifest } = await snapshot();
    const source = checked.members.find((m) => m.memberId === manifest.etcd.memberId)!;
    expect(source).toBeDefined();
    expect([manifest.etcd.endpoint, source.isLeader]).toEqual([source.endpoint, false]);
    expect(manifest.etcd.memberId).not.toBe(leader.memberId);
    expect(manifest.status).toBe('uploaded');
  }, 120_000);

  it('one member killed: unhealthy with the quorum holding, naming it; a snapshot is still taken from a member that answers', async () => {
    const victim = members[0]!;
    await killLabProcess(victim.daemon);
    await leaderAgreed();
    const checked = await health.checkEtcd({ cluster: 'drill' });
    expect([checked.healthy, checked.quorum, checked.members.length]).toEqual([false, true, 2]);
    expect(checked.detail).toMatch(
      new RegExp(`^2/3 members answered \\(quorum holds; ${victim.clientUrl.replace(/[.]/g, '\\.')}: connection refused\\), v3\\.5\\.21`),
    );
    const { manifest } = await snapshot();
    expect(manifest.etcd.endpoint).not.toBe(victim.clientUrl);
    expect(members.slice(1).map((m) => m.clientUrl)).toContain(manifest.etcd.endpoint);
    expect(manifest.status).toBe('uploaded');
  }, 120_000);

  it('two members killed: the quorum is lost, said so, and the snapshot is refused in preflight', async () => {
    for (const m of members.slice(0, 2)) if (await runningPid(m.daemon)) await killLabProcess(m.daemon);
    const checked = await health.checkEtcd({ cluster: 'drill' });
    expect([checked.healthy, checked.quorum]).toEqual([false, false]);
    // The member left alone has no leader to follow: it may answer (without one) or time out.
    expect(checked.detail).toMatch(/QUORUM LOST|no answer|deadline|leader none/);
    const err = await snapshot().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const root = rootFailure(err);
    expect(root.type).toBe('PreflightFailed');
    expect(root.message).toMatch(/^preflight: etcd of cluster 'drill' at .+ is unhealthy: /);
  }, 120_000);
});
