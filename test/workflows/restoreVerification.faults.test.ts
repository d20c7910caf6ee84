// restoreVerification under a fault (lab: Temporal, MinIO, primary etcd and kube-apiserver; a worker
// process of its own): kill -9 of the worker while its scratch etcd runs. The restarted worker's retry
// stops what the killed attempt left, verifies, and leaves no process or directory behind.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { temporalClient, type LifeboatClient } from '../../worker/temporal.js';
import { execa, type ResultPromise } from 'execa';
import type { etcdSnapshot } from '../../workflows/etcdSnapshot.js';
import type { restoreVerification } from '../../workflows/restoreVerification.js';
import { labConfigFile } from '../../lab/topology.js';
import { retriedActivities } from '../helpers/activity-attempts.js';
import { cliPath, labConfig } from '../helpers/lab.js';
import { alive, processesNaming } from '../helpers/processes.js';

const config = labConfig();
const scratchDir = mkdtempSync(join(tmpdir(), 'lifeboat-verify-fault-'));
let client: LifeboatClient;
beforeAll(async () => {
  client = await temporalClient(config);
});
afterAll(async () => {
  await client?.connection.close();
  rmSync(scratchDir, { recursive: true, force: true });
});

/** Pids of processes whose command line names the scratch directory, with their program. */
const scratchProcesses = () => processesNaming(scratchDir);

/** The last lines of the scratch etcd's and kube-apiserver's logs whose process is not among `running`. */
const scratchLogTails = (running: { program: string }[]): Record<string, string> =>
  Object.fromEntries(
    readdirSync(scratchDir).flatMap((attempt) =>
      ['etcd', 'kube-apiserver']
        .filter((program) => !running.some((p) => p.program === program))
        .flatMap((program) => {
          const log = join(scratchDir, attempt, `${program}.log`);
          return existsSync(log) ? [[program, readFileSync(log, 'utf8').trim().split('\n').slice(-5).join('\n')]] : [];
        }),
    ),
  );

describe('restoreVerification under faults', () => {
  it('kill -9 of the worker mid-verification: a restarted worker completes it and nothing is left behind', async () => {
    const taskQueue = `test-verify-kill-${randomUUID()}`;
    const startWorker = (): ResultPromise =>
      execa(process.execPath, [cliPath, 'worker'], {
        env: {
          LIFEBOAT_CONFIG: labConfigFile,
          LIFEBOAT_TEMPORAL_TASK_QUEUE: taskQueue,
          LIFEBOAT_METRICS_PORT: '0',
          LIFEBOAT_SCRATCH_DIR: scratchDir,
        },
        reject: false,
      });
    let worker = startWorker();
    try {
      const { manifest } = await client.workflow.execute<typeof etcdSnapshot>('etcdSnapshot', {
        taskQueue,
        workflowId: `etcd-snapshot/primary/test-verify-kill-${Date.now()}`,
        args: [{ cluster: 'primary', skipRetention: true }],
      });
      const handle = await client.workflow.start<typeof restoreVerification>('restoreVerification', {
        taskQueue,
        workflowId: `verify-etcd/primary/test-kill-${Date.now()}`,
        args: [{ kind: 'etcd', cluster: 'primary', snapshotId: manifest.snapshotId }],
        workflowExecutionTimeout: '10 minutes',
      });
      // Kill the worker as soon as its scratch kube-apiserver is started: the scratch etcd runs, and
      // the checks and the teardown are still a second or more away.
      let orphans: { pid: number; program: string }[] = [];
      for (
        const deadline = Date.now() + 60_000;
        Date.now() < deadline && !orphans.some((p) => p.program === 'kube-apiserver');
        await new Promise((r) => setTimeout(r, 10))
      ) {
        orphans = scratchProcesses();
      }
      worker.kill('SIGKILL');
      await worker;
      orphans = scratchProcesses();
      // The scenario under test: the killed worker left a scratch etcd running and its directory in place.
      // (When one is missing, the end of its log says why.)
      expect({ programs: orphans.map((p) => p.program).sort(), logs: scratchLogTails(orphans) }).toEqual({
        programs: ['etcd', 'kube-apiserver'],
        logs: {},
      });
      expect(readdirSync(scratchDir)).toHaveLength(1);

      worker = startWorker();
      const r = await handle.result();
      expect(r.passed).toBe(true);
      // The restore the kill interrupted ran once more; nothing else was retried.
      expect(retriedActivities(await handle.fetchHistory())).toEqual([['restoreSnapshotInScratch', 2]]);
      expect(orphans.filter((p) => alive(p.pid))).toEqual([]);
      expect(scratchProcesses()).toEqual([]);
      expect(readdirSync(scratchDir)).toEqual([]);
    } finally {
      worker.kill('SIGTERM');
      await worker;
    }
  }, 300_000);
});
