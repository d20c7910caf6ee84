// Integration (lab: Temporal, the drill cluster's 3-member etcd and its kube-apiserver; a worker of its own):
// the etcd-member-replace runbook through the `lab` control-plane driver.
// - A member killed with SIGKILL and its data wiped (a lost disk): the runbook removes it, adds it back
//   as a learner, starts it to join, promotes it; the cluster ends with 3 healthy voting members, the
//   member under a new id, holding data written after it came back.
// - A member killed with its data left (suspect data): the data dir is moved aside (kept) under a name
//   derived from the run, and the member comes back from its peers.
// - The running leader replaced: the leadership is handed over first (move-leader), then it is replaced.
// - Two members dead: the quorum is lost; the runbook refuses in preflight, naming etcd-recovery, and
//   nothing is changed (same member ids, no member started).
// lab: drill (kills members of the drill cluster's etcd): runs in the drill lane, one suite at a time, beside the other suites (test/run.sh).
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api } from '@kubernetes/client-node';
import { execa } from 'execa';
import { activityDeps } from '../../activities/deps.js';
import { listEtcdMembers } from '../../activities/etcd/members.js';
import { drillUp } from '../../lab/lab.js';
import { runningPid } from '../../lab/processes.js';
import { bin, etcdMembersOf, drillCluster } from '../../lab/topology.js';
import type { RunbookReport } from '../../model/runbook/run.js';
import type { runbook } from '../../workflows/runbook.js';
import { createClients } from '../../worker/clients.js';
import { adminKubeConfig, drillConfig, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { killLabProcess } from '../helpers/processes.js';
import { findRunbookIn } from '../helpers/runbooks.js';

const config = drillConfig();
const drill = config.clusters.find((c) => c.name === 'drill')!;
const clients = createClients(config);
const deps = activityDeps(clients, undefined);
const members = etcdMembersOf(drillCluster);
const core = adminKubeConfig('drill').makeApiClient(CoreV1Api);
const runbooksDir = fileURLToPath(new URL('../../../runbooks/', import.meta.url));
let w: TestWorker;

beforeAll(async () => {
  await drillUp();
  w = await startTestWorker(undefined, drillConfig);
}, 300_000);
afterAll(async () => {
  await w?.stop();
  clients.s3.destroy();
  await drillUp();
}, 300_000);

/** Until every member answers with a leader (after `lab up` or a replacement). */
async function allHealthy(): Promise<Awaited<ReturnType<typeof listEtcdMembers>>> {
  for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 500))) {
    const listed = await listEtcdMembers(deps, 'drill').catch(() => []);
    if (listed.length === 3 && listed.every((m) => m.healthy && !m.isLearner)) return listed;
    if (Date.now() > deadline) throw new Error(`etcd of drill not 3 healthy voters within 60 s: ${JSON.stringify(listed)}`);
  }
}

const replace = (member: string) =>
  w.client.workflow
    .execute<typeof runbook>('runbook', {
      taskQueue: w.config.temporal.taskQueue,
      workflowId: `etcd-member-replace/drill/${member}-${Date.now()}`,
      args: [
        findRunbookIn(runbooksDir, 'etcd-member-replace', {
          cluster: 'drill',
          member,
          reason: 'jest',
          approver: 'alice',
          catchUpTimeoutSeconds: 120,
        }),
      ],
    })
    .then(
      (r) => r,
      (err: unknown) => (err as { cause?: { details?: unknown[] } }).cause?.details?.[0] as RunbookReport,
    );

/** A serializable (member-local) read of `key` from one member: what that member itself holds. */
const localRead = async (clientUrl: string, key: string) =>
  (
    await execa(bin.etcdctl, [
      `--endpoints=${clientUrl}`,
      `--cacert=${drill.etcd.caFile}`,
      `--cert=${drill.etcd.certFile}`,
      `--key=${drill.etcd.keyFile}`,
      'get',
      key,
      '--consistency=s',
      '--keys-only',
    ])
  ).stdout.trim();

describe('etcd-member-replace runbook (lab, 3-member drill cluster)', () => {
  it('a member killed and its data wiped comes back under a new id, a voter holding what is written after', async () => {
    const victim = members[2]!;
    const before = await allHealthy();
    const oldId = before.find((m) => m.name === victim.name)!.id;
    await killLabProcess(victim.daemon);
    await rm(victim.dataDir, { recursive: true, force: true });

    const report = await replace(victim.name);
    expect(report.status).toBe('succeeded');
    expect(report.steps.filter((s) => s.state === 'succeeded').map((s) => s.id)).toEqual([
      'preflight',
      'approve',
      'leader',
      'stop',
      'remove',
      'aside',
      'add',
      'start',
      'promote',
    ]);
    // Approved up front by alice, one of group:sre, and recorded as such.
    expect(report.approvals.map((a) => [a.step, a.approver, a.auto])).toEqual([['approve', 'alice', true]]);
    const after = await allHealthy();
    const replaced = after.find((m) => m.name === victim.name)!;
    expect(replaced.id).not.toBe(oldId);
    expect(after.map((m) => m.name).sort()).toEqual(members.map((m) => m.name).sort());
    // Nothing was there to move aside: the disk was wiped.
    expect(existsSync(report.steps.find((s) => s.id === 'aside')!.outputs!.movedTo as string)).toBe(false);

    const name = `member-replaced-${Date.now()}`;
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name }, data: { at: new Date().toISOString() } } });
    for (const deadline = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 200))) {
      if ((await localRead(victim.clientUrl, `/registry/configmaps/default/${name}`)) !== '') break;
      if (Date.now() > deadline) throw new Error(`${victim.name} does not hold ${name} within 10 s`);
    }
    await core.deleteNamespacedConfigMap({ namespace: 'default', name });
  }, 240_000);

  it('a member killed with its data left: the data dir is moved aside, kept, and the member rejoins from its peers', async () => {
    const victim = members[1]!;
    await allHealthy();
    await killLabProcess(victim.daemon);
    const report = await replace(victim.name);
    expect(report.status).toBe('succeeded');
    const aside = report.steps.find((s) => s.id === 'aside')!.outputs!.movedTo as string;
    expect(aside).toMatch(new RegExp(`^${victim.dataDir.replace(/[.]/g, '\\.')}\\.lifeboat-[0-9a-f]{12}$`));
    expect(existsSync(`${aside}/member`)).toBe(true);
    expect(existsSync(`${victim.dataDir}/member`)).toBe(true);
    await allHealthy();
    await rm(aside, { recursive: true, force: true });
  }, 240_000);

  it('the running leader replaced: the leadership is handed to a follower before it stops, and it rejoins as a voter', async () => {
    const before = await allHealthy();
    const leader = before.find((m) => m.isLeader)!;
    const report = await replace(leader.name);
    expect(report.status).toBe('succeeded');
    expect(report.steps.find((s) => s.id === 'leader')!.outputs).toMatchObject({ moved: true });
    const after = await allHealthy();
    expect(after.find((m) => m.isLeader)!.name).not.toBe(leader.name);
    expect(after.map((m) => m.name).sort()).toEqual(members.map((m) => m.name).sort());
    const aside = report.steps.find((s) => s.id === 'aside')!.outputs!.movedTo as string;
    await rm(aside, { recursive: true, force: true });
  }, 240_000);

  it('two members dead: refused in preflight, pointing to etcd-recovery; nothing changed', async () => {
    const before = await allHealthy();
    const asideBefore = members.map((m) => readdirSync(dirname(m.dataDir)).filter((f) => f.startsWith(`${basename(m.dataDir)}.lifeboat-`)));
    for (const m of members.slice(1)) await killLabProcess(m.daemon);
    const report = await replace(members[2]!.name);
    expect(report.status).toBe('failed');
    expect(report.steps.find((s) => s.id === 'preflight')!.state).toBe('failed');
    expect(report.steps.filter((s) => s.state === 'succeeded' || s.state === 'running')).toEqual([]);
    expect(report.failure).toMatch(/quorum/i);
    expect(report.failure).toMatch(/lifeboat etcd restore --cluster drill/);
    for (const m of members.slice(1)) expect(await runningPid(m.daemon)).toBeFalsy();
    // Nothing was moved aside, and once the dead members run again the cluster has the same three members.
    expect(members.map((m) => readdirSync(dirname(m.dataDir)).filter((f) => f.startsWith(`${basename(m.dataDir)}.lifeboat-`)))).toEqual(
      asideBefore,
    );
    await drillUp();
    expect((await allHealthy()).map((m) => m.id).sort()).toEqual(before.map((m) => m.id).sort());
  }, 240_000);
});
