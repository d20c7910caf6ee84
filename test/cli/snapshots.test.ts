// Integration (lab: Temporal, standby etcd, MinIO): `lifeboat backup etcd`, `snapshots list`,
// `snapshots prune [--dry-run]` as an SRE runs them. Each test runs on a cluster of its own (the
// standby's etcd under a name no other test uses, added to a copy of the lab's configuration), so what
// it lists and prunes is exactly the snapshots it took: no other test's, none the lab's schedule took.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { snapshotManifestKey, type SnapshotManifest } from '../../model/snapshot-layout.js';
import { createClients } from '../../worker/clients.js';
import { labConfig, lifeboat, startTestWorker, type TestWorker } from '../helpers/lab.js';
import {
  deleteSnapshotsOf,
  snapshotKeysOf,
  testClusterName,
  withTestClusters,
  writeConfigWithTestCluster,
} from '../helpers/test-cluster.js';

const clients = createClients(labConfig());
const bucket = 'lifeboat';
const dir = mkdtempSync(join(tmpdir(), 'lifeboat-snapshots-cli-'));
// keepLast 3 and nothing else: of five snapshots, the two oldest go, whatever the day or week.
const retention = { keepLast: 3, daily: 0, weekly: 0, monthly: 0 };
const listed = testClusterName('cli-list');
const pruned = testClusterName('cli-prune');
let w: TestWorker;
/** The CLI's environment: the configuration with the test clusters, and the test worker's task queue. */
let env: Record<string, string>;
beforeAll(async () => {
  w = await startTestWorker((c) => withTestClusters(c, [listed, pruned], 'standby', { retention }));
  const configFile = writeConfigWithTestCluster(dir, [listed, pruned], 'standby', retention);
  env = { LIFEBOAT_CONFIG: configFile, LIFEBOAT_TEMPORAL_TASK_QUEUE: w.config.temporal.taskQueue };
});
afterAll(async () => {
  await w?.stop();
  for (const cluster of [listed, pruned]) await deleteSnapshotsOf(clients.s3, bucket, cluster);
  clients.s3.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const listSnapshots = async (cluster: string) =>
  JSON.parse((await lifeboat(['snapshots', 'list', '--cluster', cluster, '--json'], env)).stdout) as {
    cluster: string;
    complete: boolean;
    snapshots: SnapshotManifest[];
  };
const backup = async (cluster: string) => {
  const result = await lifeboat(['backup', 'etcd', '--cluster', cluster, '--wait', '--json', '--skip-retention'], env);
  expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: '' });
  return JSON.parse(result.stdout) as { workflowId: string; manifest: SnapshotManifest; steps: { name: string; state: string }[] };
};

describe('lifeboat backup etcd / snapshots', () => {
  it('backup etcd --wait --json prints the manifest and steps; snapshots list shows it', async () => {
    const out = await backup(listed);
    expect(out.workflowId).toMatch(new RegExp(`^etcd-snapshot/${listed}/`));
    expect(out.steps.map((s) => `${s.name}:${s.state}`)).toEqual([
      'preflight:done',
      'stream:done',
      'inventory:done',
      'verify-upload:done',
      'manifest:done',
      'retention:skipped',
    ]);
    expect(await listSnapshots(listed)).toEqual({ cluster: listed, complete: true, snapshots: [out.manifest] });
    const table = await lifeboat(['snapshots', 'list', '--cluster', listed], env);
    expect(table.stdout).toMatch(
      new RegExp(`^${out.manifest.snapshotId}\\s+\\d+m\\s+[\\d.]+ MiB\\s+${out.manifest.etcd.revisionAtStart}\\s+uploaded\\s+lab-1$`, 'm'),
    );
    expect(table.stdout.trim().split('\n')).toHaveLength(2);
  }, 180_000);

  it('prune --dry-run says what it would delete and why, and deletes nothing; prune deletes manifest and object together', async () => {
    const taken: SnapshotManifest[] = [];
    for (let i = 0; i < 5; i++) taken.push((await backup(pruned)).manifest);
    const ids = taken.map((m) => m.snapshotId).reverse(); // newest first
    const before = await listSnapshots(pruned);
    expect(before.snapshots.map((m) => m.snapshotId)).toEqual(ids);
    const keysBefore = await snapshotKeysOf(clients.s3, bucket, pruned);
    expect(keysBefore).toHaveLength(10);

    const plan = {
      keep: [
        { id: ids[0], reasons: ['last 3', 'newest uploaded (no verified snapshot)'] },
        { id: ids[1], reasons: ['last 3'] },
        { id: ids[2], reasons: ['last 3'] },
      ],
      delete: [
        { id: ids[3], reason: 'not selected by policy' },
        { id: ids[4], reason: 'not selected by policy' },
      ],
    };
    const dry = await lifeboat(['snapshots', 'prune', '--cluster', pruned, '--dry-run', '--json'], env);
    expect(dry.exitCode).toBe(0);
    expect(JSON.parse(dry.stdout)).toEqual({
      workflowId: expect.stringMatching(new RegExp(`^etcd-snapshot-prune/${pruned}/`)),
      plan,
      dryRun: true,
      deletedObjects: [],
      abortedUploads: [],
    });
    expect(await snapshotKeysOf(clients.s3, bucket, pruned)).toEqual(keysBefore);
    const human = await lifeboat(['snapshots', 'prune', '--cluster', pruned, '--dry-run'], env);
    expect(
      human.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => line.split(/\s{2,}/)),
    ).toEqual([
      [ids[0], 'keep', 'last 3, newest uploaded (no verified snapshot)'],
      [ids[1], 'keep', 'last 3'],
      [ids[2], 'keep', 'last 3'],
      [ids[3], 'would delete', 'not selected by policy'],
      [ids[4], 'would delete', 'not selected by policy'],
    ]);

    const real = await lifeboat(['snapshots', 'prune', '--cluster', pruned, '--json'], env);
    expect(real.exitCode).toBe(0);
    // Manifest first, then the object: a half-done delete leaves an invisible object, never a dangling manifest.
    const gone = [taken[1]!, taken[0]!].flatMap((m) => [snapshotManifestKey(pruned, m.snapshotId), m.object.objectKey]);
    expect(JSON.parse(real.stdout)).toEqual({
      workflowId: expect.stringMatching(new RegExp(`^etcd-snapshot-prune/${pruned}/`)),
      plan,
      dryRun: false,
      deletedObjects: gone,
      abortedUploads: [],
    });
    expect(await snapshotKeysOf(clients.s3, bucket, pruned)).toEqual(keysBefore.filter((k) => !gone.includes(k)));
    expect((await listSnapshots(pruned)).snapshots.map((m) => m.snapshotId)).toEqual(ids.slice(0, 3));
  }, 300_000);

  it('bad input: an unknown cluster is refused, nothing started', async () => {
    const lab = { LIFEBOAT_TEMPORAL_TASK_QUEUE: w.config.temporal.taskQueue };
    const result = await lifeboat(['backup', 'etcd', '--cluster', 'nowhere', '--wait'], lab);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/unknown cluster 'nowhere'; configured clusters: primary, standby/);
    const missing = await lifeboat(['backup', 'etcd'], lab);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/required option '--cluster <name>' not specified/);
  });
});
