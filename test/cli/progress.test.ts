// Integration (lab: Temporal, standby etcd, MinIO; a worker of its own, a test cluster): `--wait` shows
// the steps of a run's running child runs beside its own step, so a runbook whose step is a child
// workflow (here etcd-backup's verification) is not a minute of one silent word.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createS3Client } from '../../worker/s3.js';
import { labConfig, lifeboat, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { deleteSnapshotsOf, testClusterName, withTestClusters, writeConfigWithTestCluster } from '../helpers/test-cluster.js';

const cluster = testClusterName('progress');
const dir = mkdtempSync(join(tmpdir(), 'lifeboat-progress-test-'));
const s3 = createS3Client(labConfig());
let w: TestWorker;
let env: Record<string, string>;

beforeAll(async () => {
  w = await startTestWorker((c) => withTestClusters(c, [cluster], 'standby'));
  env = {
    LIFEBOAT_CONFIG: writeConfigWithTestCluster(dir, [cluster], 'standby'),
    LIFEBOAT_TEMPORAL_TASK_QUEUE: w.config.temporal.taskQueue,
  };
});

afterAll(async () => {
  await w?.stop();
  await deleteSnapshotsOf(s3, 'lifeboat', cluster);
  s3.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('--wait', () => {
  it("prints the running child run's steps under the runbook's own step", async () => {
    const result = await lifeboat(['runbook', 'run', 'etcd-backup', '--param', `cluster=${cluster}`, '--wait'], env);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe('runbook etcd-backup: SUCCEEDED');
    // Off a terminal, progress is one line per change. The verification child runs several seconds through
    // nine steps of its own, polled every 0.5 s: its steps appear as `verify › <its step>`, a download
    // with the bytes it has fetched so far (`verify › fetch 18.0 MiB`) when a poll falls inside it, and a
    // bare `verify` when a poll comes after the step began but before its child run has started.
    const lines = result.stderr.split('\n').filter(Boolean);
    const verifyLines = lines.filter((l) => l.startsWith('verify'));
    expect(verifyLines.length).toBeGreaterThan(0);
    expect(
      verifyLines.filter(
        (l) =>
          !/^verify( › (select|fetch|restore-db|start-etcd|check-inventory|start-apiserver|check-objects|teardown|record|finishing|starting)( › [a-z-]+)?( \d+\.\d MiB)?)?$/.test(
            l,
          ),
      ),
    ).toEqual([]);
    expect(verifyLines.some((l) => l.startsWith('verify › '))).toBe(true);
  }, 300_000);
});
