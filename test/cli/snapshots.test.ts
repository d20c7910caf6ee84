// Integration (lab: Temporal, standby etcd, MinIO): `lifeboat backup etcd`, `snapshots list`,
// `snapshots prune [--dry-run]` and `snapshots fetch` as an SRE runs them. Each test runs on a cluster of its own (the
// standby's etcd under a name no other test uses, added to a copy of the lab's configuration), so what
// it lists and prunes is exactly the snapshots it took: no other test's, none the lab's schedule took.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import { bin } from '../../lab/topology.js';
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
const fetched = testClusterName('cli-fetch');
const testClusters = [listed, pruned, fetched];
let w: TestWorker;
/** The CLI's environment: the configuration with the test clusters, and the test worker's task queue. */
let env: Record<string, string>;
let configFile: string;
beforeAll(async () => {
  w = await startTestWorker((c) => withTestClusters(c, testClusters, 'standby', { retention }));
  configFile = writeConfigWithTestCluster(dir, testClusters, 'standby', retention);
  env = { LIFEBOAT_CONFIG: configFile, LIFEBOAT_TEMPORAL_TASK_QUEUE: w.config.temporal.taskQueue };
});
afterAll(async () => {
  await w?.stop();
  for (const cluster of testClusters) await deleteSnapshotsOf(clients.s3, bucket, cluster);
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
    expect(await listSnapshots(listed)).toEqual({
      cluster: listed,
      complete: true,
      macsChecked: true,
      snapshots: [out.manifest],
      tampered: [],
    });
    const table = await lifeboat(['snapshots', 'list', '--cluster', listed], env);
    expect(table.stdout).toMatch(
      new RegExp(
        `^${out.manifest.snapshotId}\\s+\\d+m\\s+[\\d.]+ MiB\\s+${out.manifest.etcd.revisionAtStart}\\s+uploaded\\s+lab-1\\s+signed$`,
        'm',
      ),
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

  it('snapshots fetch writes the plaintext snapshot etcdutl reads, its sha256 the manifest’s; an existing --out is refused and left unchanged', async () => {
    const { manifest } = await backup(fetched);
    const out = join(dir, 'fetched.db');
    const result = await lifeboat(
      ['snapshots', 'fetch', '--cluster', fetched, '--snapshot', manifest.snapshotId, '--out', out, '--json'],
      env,
    );
    expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toEqual({
      cluster: fetched,
      snapshotId: manifest.snapshotId,
      status: 'uploaded',
      startedAt: manifest.startedAt,
      file: out,
      bytes: manifest.object.plaintextBytes,
      sha256: manifest.object.plaintextSha256,
      storedSha256: manifest.object.storedSha256,
      keyId: 'lab-1',
      revision: manifest.etcd.revisionAtStart,
      signed: true,
    });
    const bytes = readFileSync(out);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(manifest.object.plaintextSha256);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(existsSync(`${out}.partial`)).toBe(false);
    const status = await execa(bin.etcdutl, ['snapshot', 'status', out, '-w', 'json']);
    expect((JSON.parse(status.stdout) as { revision: number }).revision).toBeGreaterThanOrEqual(manifest.etcd.revisionAtStart);

    // An existing --out: refused before anything is downloaded, the file untouched.
    const again = await lifeboat(['snapshots', 'fetch', '--cluster', fetched, '--snapshot', manifest.snapshotId, '--out', out], env);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(/--out .*fetched\.db: exists; refusing to replace it/);
    expect(readFileSync(out).equals(bytes)).toBe(true);

    // Without --json: bytes, sha256, key id and revision for a person.
    const human = await lifeboat(
      ['snapshots', 'fetch', '--cluster', fetched, '--snapshot', manifest.snapshotId, '--out', join(dir, 'human.db')],
      env,
    );
    expect(human.exitCode).toBe(0);
    expect(human.stdout).toContain(`${manifest.object.plaintextBytes} bytes`);
    expect(human.stdout).toContain(`sha256 ${manifest.object.plaintextSha256}`);
    expect(human.stdout).toContain(`revision ${manifest.etcd.revisionAtStart}`);
    expect(human.stdout).toContain('key lab-1');
  }, 180_000);

  it('snapshots fetch refuses an unknown cluster or snapshot, a bad flag, a configuration without keys and a corrupt object, and leaves no file', async () => {
    const { manifest } = await backup(fetched);
    const fetchTo = (args: string[], name: string, e = env) =>
      lifeboat(['snapshots', 'fetch', ...args, '--out', join(dir, name)], e).then((r) => ({
        exitCode: r.exitCode,
        stderr: r.stderr,
        left: readdirSync(dir).filter((f) => f.startsWith(name)),
      }));
    const id = manifest.snapshotId;

    expect(await fetchTo(['--cluster', 'nowhere', '--snapshot', id], 'a.db')).toEqual({
      exitCode: 2,
      stderr: expect.stringMatching(/--cluster: unknown cluster 'nowhere'; configured clusters: primary, standby/),
      left: [],
    });
    expect(await fetchTo(['--cluster', fetched, '--snapshot', '20261121T093000Z-000000000000'], 'b.db')).toEqual({
      exitCode: 1,
      stderr: expect.stringMatching(new RegExp(`cluster '${fetched}' has no snapshot 20261121T093000Z-000000000000`)),
      left: [],
    });
    expect(await fetchTo(['--cluster', fetched, '--snapshot', '../x'], 'c.db')).toEqual({
      exitCode: 2,
      stderr: expect.stringMatching(/--snapshot '\.\.\/x': expected a snapshot id/),
      left: [],
    });
    const missing = await lifeboat(['snapshots', 'fetch', '--cluster', fetched, '--snapshot', id], env);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/required option '--out <file>' not specified/);

    // A configuration without keys (and so without what needs them: schedules, game days, the codec server).
    const document = parse(readFileSync(configFile, 'utf8')) as { clusters: { etcdSnapshots?: { schedule?: unknown } }[] } & Record<
      string,
      unknown
    >;
    delete document.encryption;
    delete document.gameDay;
    delete document.codecServer;
    for (const c of document.clusters) delete c.etcdSnapshots?.schedule;
    const keyless = join(dir, 'keyless.yaml');
    writeFileSync(keyless, stringify(document));
    expect(await fetchTo(['--cluster', fetched, '--snapshot', id], 'd.db', { ...env, LIFEBOAT_CONFIG: keyless })).toEqual({
      exitCode: 2,
      stderr: expect.stringMatching(/the configuration has no encryption keys/),
      left: [],
    });

    // One byte of the stored (encrypted) object flipped: refused, the partial file removed.
    const got = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: manifest.object.objectKey }));
    const stored = Buffer.from(await got.Body!.transformToByteArray());
    stored[Math.floor(stored.length / 2)]! ^= 0xff;
    await clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: manifest.object.objectKey, Body: stored }));
    expect(await fetchTo(['--cluster', fetched, '--snapshot', id], 'e.db')).toEqual({
      exitCode: 1,
      stderr: expect.stringMatching(new RegExp(`snapshot ${id} of '${fetched}' is corrupt: .*Nothing written to`)),
      left: [],
    });
  }, 180_000);

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
