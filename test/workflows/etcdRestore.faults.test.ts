// etcd-recovery under faults (lab: Temporal, MinIO, the drill cluster's 3-member etcd and control plane; a
// worker process of its own, on a task queue of its own): `lifeboat etcd restore` of the drill cluster with
// the worker killed -9 at every step boundary in turn, in one run: once each step is done, the worker
// dies and a new one takes over. The run completes once; no activity runs more than twice (the one the
// dead worker had in hand is retried once); the restore never ran over a running member (each member's
// restore finished once, under this run's mark) and no data dir was deleted (each member's old data is
// where the plan moved it, and nothing else of this run is left beside it).
// lab: drill (stops the drill cluster's kube-apiserver and etcd members): runs in the drill lane, one suite at a time, beside the other suites (test/run.sh).
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { temporalClient, type LifeboatClient } from '../../worker/temporal.js';
import { CoreV1Api } from '@kubernetes/client-node';
import type { EtcdRestorePreflight } from '../../activities/control-plane/restore.js';
import { drillUp } from '../../lab/lab.js';
import { labDrillConfigFile } from '../../lab/topology.js';
import type { RunbookReport } from '../../model/runbook/run.js';
import { runIdTail } from '../../model/snapshot-layout.js';
import type { etcdSnapshot } from '../../workflows/etcdSnapshot.js';
import { activityAttempts } from '../helpers/activity-attempts.js';
import { adminKubeConfig, drillConfig, lifeboat } from '../helpers/lab.js';
import { polled as pollWorker, startWorkerProcess } from '../helpers/worker-process.js';

const config = drillConfig();
const core = adminKubeConfig('drill').makeApiClient(CoreV1Api);
const runbooksDir = fileURLToPath(new URL('../../../runbooks/', import.meta.url));
/** Every step of a restore given --auto-approve, in order: each is a boundary the worker dies at. */
const steps = [
  'preflight',
  // Approved up front (approvedBy: alice): a step that records the approval, no activity.
  'approve',
  'stop-controllers',
  'stop-apiservers',
  'stop-etcd',
  'aside',
  'restore',
  'start-etcd',
  'quorum',
  'start-apiservers',
  'api',
  'restart-kubelets',
  'start-controller-managers',
  'start-schedulers',
  'verify',
  'cleanup',
];
const movedAside: string[] = [];
let client: LifeboatClient;

beforeAll(async () => {
  await drillUp();
  client = await temporalClient(config);
}, 300_000);
afterAll(async () => {
  await client?.connection.close();
  await Promise.all(movedAside.map((d) => rm(d, { recursive: true, force: true })));
  await drillUp();
}, 300_000);

const startWorker = (taskQueue: string) => startWorkerProcess(taskQueue, runbooksDir, { LIFEBOAT_CONFIG: labDrillConfigFile });
const polled = (taskQueue: string) => pollWorker(client, config.temporal.namespace, taskQueue);

describe('etcd-recovery with the worker killed -9 at every step boundary', () => {
  it('completes once: every step once, at most the step in hand retried, no member restored twice, no data dir deleted', async () => {
    const taskQueue = `test-etcd-kill-${randomUUID()}`;
    const env = { LIFEBOAT_CONFIG: labDrillConfigFile, LIFEBOAT_TEMPORAL_TASK_QUEUE: taskQueue, LIFEBOAT_RUNBOOKS_DIR: runbooksDir };
    let worker = startWorker(taskQueue);
    const kills: { after: string; inHand: string[] }[] = [];
    try {
      await polled(taskQueue);
      const ns = `restore-kill-${Date.now()}`;
      await core.createNamespace({ body: { metadata: { name: ns } } });
      const { manifest } = await client.workflow.execute<typeof etcdSnapshot>('etcdSnapshot', {
        taskQueue,
        workflowId: `etcd-snapshot/drill/test-kill-${Date.now()}`,
        args: [{ cluster: 'drill', skipRetention: true }],
        workflowExecutionTimeout: '5 minutes',
      });
      await core.deleteNamespace({ name: ns });

      const started = await lifeboat(
        [
          'etcd',
          'restore',
          '--cluster',
          'drill',
          '--snapshot',
          manifest.snapshotId,
          '--force',
          '--reason',
          'kill -9 at every boundary',
          '--auto-approve',
          '--approver',
          // One of the lab's group:sre, not who starts the restore (four eyes).
          'alice',
          '--json',
        ],
        env,
      );
      expect([started.exitCode, started.stderr]).toEqual([0, '']);
      const { workflowId } = JSON.parse(started.stdout) as { workflowId: string };
      expect(workflowId).toBe('etcd-restore/drill');
      const handle = client.workflow.getHandle(workflowId);

      /** Boundaries the run had passed before the worker killed at the one before could be replaced. */
      const passedTogether: string[] = [];
      for (const boundary of steps.slice(0, -1)) {
        let waited = false;
        for (const deadline = Date.now() + 300_000; ;) {
          const report = await handle.query<RunbookReport>('report').catch(() => undefined);
          const state = report?.steps.find((s) => s.id === boundary)?.state;
          if (state === 'succeeded') break;
          if (report && ['failed', 'compensated', 'aborted'].includes(report.status))
            throw new Error(`the run ended ${report.status}: ${report.failure}`);
          if (Date.now() > deadline) throw new Error(`step ${boundary} not done within 300 s`);
          waited = true;
          await new Promise((r) => setTimeout(r, 20));
        }
        // Already done when first asked (an auto-approval right after preflight, on a busy machine): the
        // worker killed at the last boundary did it. Killing its successor now would kill the retry of the
        // same activities, which is no boundary of its own.
        if (!waited && kills.length) {
          passedTogether.push(boundary);
          continue;
        }
        worker.kill('SIGKILL');
        await worker;
        await new Promise((r) => setTimeout(r, 500));
        const { raw } = await handle.describe();
        kills.push({
          after: boundary,
          inHand: (raw.pendingActivities ?? []).filter((a) => Number(a.state) === 2).map((a) => a.activityType!.name!),
        });
        worker = startWorker(taskQueue);
      }
      const report = (await handle.result()) as RunbookReport;
      const { runId } = await handle.describe();
      process.stderr.write(
        `[etcd kill] ${JSON.stringify(kills)}; passed together with the one before: ${JSON.stringify(passedTogether)}\n`,
      );
      // Most boundaries got a kill of their own (all of them when the machine keeps up).
      expect(kills.length).toBeGreaterThanOrEqual(Math.ceil((steps.length - 1) / 2));
      const plan = report.steps.find((s) => s.id === 'preflight')!.outputs!.plan as EtcdRestorePreflight;
      movedAside.push(...plan.members.flatMap((m) => [m.movedAsideTo, `${m.movedAsideTo}-restored`]));

      expect(report.status).toBe('succeeded');
      expect(report.steps.filter((s) => s.state !== 'succeeded').map((s) => [s.id, s.state])).toEqual([]);
      expect(report.approvals.map((a) => [a.step, a.approver, a.auto])).toEqual([['approve', 'alice', true]]);
      expect(report.steps.filter((s) => s.state === 'succeeded' && !s.path.includes('.')).map((s) => s.id)).toEqual(steps);
      // No activity more than twice; those that ran twice are those a dead worker had in hand.
      const attempts = activityAttempts(await handle.fetchHistory());
      const inHand = kills.flatMap((k) => k.inHand);
      expect(attempts.filter(([, n]) => n > 2)).toEqual([]);
      for (const [activity] of attempts.filter(([, a]) => a === 2)) expect([activity, inHand.includes(activity)]).toEqual([activity, true]);
      expect(attempts.filter(([a]) => a === 'restoreEtcdMembers')).toHaveLength(1);

      // Each member: its data dir is this run's restore, its old data where the plan moved it, and
      // nothing else of this run beside them (no unfinished restore, no restore rolled aside).
      for (const m of plan.members) {
        expect(readFileSync(`${m.dataDir}/member/lifeboat-restore-${runIdTail(runId)}`, 'utf8').trim()).toBe(runId);
        expect(existsSync(`${m.movedAsideTo}/member`)).toBe(true);
        const ours = readdirSync(dirname(m.dataDir)).filter((f) => f.startsWith(`${basename(m.dataDir)}.lifeboat-${runIdTail(runId)}`));
        expect(ours).toEqual([basename(m.movedAsideTo)]);
      }
      // The snapshot's namespace is back: it was taken before the deletion.
      expect((await core.readNamespace({ name: ns })).metadata!.name).toBe(ns);
      await core.deleteNamespace({ name: ns });
    } finally {
      worker.kill('SIGTERM');
      await worker;
    }
  }, 1_200_000);
});
