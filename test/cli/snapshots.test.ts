// Integration (lab: Temporal, standby etcd, MinIO): `lifeboat backup etcd`, `snapshots list`,
// `snapshots prune [--dry-run]` as an SRE runs them.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { SnapshotManifest } from '../../workflows/snapshot-layout.js';
import type { RetentionResult } from '../../activities/etcd-snapshot.js';
import { createClients } from '../../worker/clients.js';
import { labConfig, lifeboat, startTestWorker, type TestWorker } from '../helpers/lab.js';

const clients = createClients(labConfig());
let w: TestWorker;
let env: Record<string, string>;
beforeAll(async () => {
  w = await startTestWorker();
  env = { LIFEBOAT_TEMPORAL_TASK_QUEUE: w.config.temporal.taskQueue };
});
afterAll(async () => {
  await w?.stop();
  clients.s3.destroy();
});

const listSnapshots = async () => JSON.parse((await lifeboat(['snapshots', 'list', '--cluster', 'standby', '--json'])).stdout) as { complete: boolean; snapshots: SnapshotManifest[] };
const objectsOf = async (id: string) =>
  (await clients.s3.send(new ListObjectsV2Command({ Bucket: 'lifeboat', Prefix: `etcd/standby/${id}/` }))).KeyCount ?? 0;

describe('lifeboat backup etcd / snapshots', () => {
  it('backup etcd --wait --json prints the manifest and steps; snapshots list shows it', async () => {
    const result = await lifeboat(['backup', 'etcd', '--cluster', 'standby', '--wait', '--json', '--skip-retention'], env);
    expect(result.exitCode).toBe(0);
    const out = JSON.parse(result.stdout) as { workflowId: string; manifest: SnapshotManifest; steps: { name: string; state: string }[] };
    expect(out.workflowId).toMatch(/^etcd-snapshot\/standby\//);
    expect(out.steps.map((s) => `${s.name}:${s.state}`)).toEqual(['preflight:done', 'stream:done', 'inventory:done', 'verify-upload:done', 'manifest:done', 'retention:skipped']);
    const listed = await listSnapshots();
    expect(listed.complete).toBe(true);
    expect(listed.snapshots[0]).toEqual(out.manifest);
    const table = await lifeboat(['snapshots', 'list', '--cluster', 'standby']);
    expect(table.stdout).toMatch(new RegExp(`^${out.manifest.snapshotId}\\s+\\d+m\\s+[\\d.]+ MiB\\s+\\d+\\s+uploaded\\s+lab-1$`, 'm'));
  });

  it('prune --dry-run says what it would delete and why, and deletes nothing; prune deletes manifest and object together', async () => {
    // Four more of today: with the first test's, at least five.
    for (let i = 0; i < 4; i++) expect((await lifeboat(['backup', 'etcd', '--cluster', 'standby', '--wait', '--json', '--skip-retention'], env)).exitCode).toBe(0);
    const before = await listSnapshots();
    expect(before.snapshots.length).toBeGreaterThanOrEqual(5);

    const dry = JSON.parse((await lifeboat(['snapshots', 'prune', '--cluster', 'standby', '--dry-run', '--json'], env)).stdout) as RetentionResult;
    expect(dry.dryRun).toBe(true);
    expect(dry.deletedObjects).toEqual([]);
    // Every listed snapshot is either kept or deleted, newest first.
    expect([...dry.plan.keep.map((k) => k.id), ...dry.plan.delete.map((d) => d.id)].sort()).toEqual(before.snapshots.map((m) => m.snapshotId).sort());
    // Today's snapshots (this test's, at least four): keepLast 3 keeps the three newest that did not fail
    // verification (daily, weekly and monthly pick the newest, one of them), the newest verified one is
    // kept whatever it is, and every other one of today goes.
    const day = (m: SnapshotManifest) => m.startedAt.slice(0, 10);
    const today = before.snapshots.filter((m) => day(m) === day(before.snapshots[0]!));
    expect(today.length).toBeGreaterThanOrEqual(4);
    const newestThree = before.snapshots.filter((m) => m.status !== 'failed').slice(0, 3).map((m) => m.snapshotId);
    const newestVerified = before.snapshots.find((m) => m.status === 'verified')?.snapshotId;
    const keptToday = today.map((m) => m.snapshotId).filter((id) => newestThree.includes(id) || id === newestVerified);
    const keptIds = dry.plan.keep.map((k) => k.id);
    expect(keptIds.filter((id) => today.some((m) => m.snapshotId === id))).toEqual(keptToday);
    expect(dry.plan.delete.map((d) => d.id).filter((id) => today.some((m) => m.snapshotId === id))).toEqual(today.map((m) => m.snapshotId).filter((id) => !keptToday.includes(id)));
    for (const d of dry.plan.delete) {
      expect(d.reason).toBe(before.snapshots.find((m) => m.snapshotId === d.id)!.status === 'failed' ? 'failed verification' : 'not selected by policy');
    }
    // Earlier days' snapshots (left by earlier runs) are kept only as the newest good one of their day,
    // week or month, or as the newest verified.
    for (const k of dry.plan.keep.filter((k) => !today.some((m) => m.snapshotId === k.id))) {
      expect(k.reasons.every((r) => /^(daily|weekly|monthly) /.test(r) || r === 'newest verified')).toBe(true);
      const m = before.snapshots.find((s) => s.snapshotId === k.id)!;
      if (k.reasons.some((r) => r.startsWith('daily '))) {
        expect(before.snapshots.find((s) => day(s) === day(m) && s.status !== 'failed')!.snapshotId).toBe(k.id);
      }
    }
    expect((await listSnapshots()).snapshots).toHaveLength(before.snapshots.length);
    const human = await lifeboat(['snapshots', 'prune', '--cluster', 'standby', '--dry-run'], env);
    expect(human.stdout).toMatch(new RegExp(`^${dry.plan.delete[0]!.id}\\s+would delete\\s+${dry.plan.delete[0]!.reason}$`, 'm'));

    const real = JSON.parse((await lifeboat(['snapshots', 'prune', '--cluster', 'standby', '--json'], env)).stdout) as RetentionResult;
    expect(real.plan.delete.map((d) => d.id)).toEqual(dry.plan.delete.map((d) => d.id));
    for (const { id } of real.plan.delete) expect(await objectsOf(id)).toBe(0);
    for (const { id } of real.plan.keep) expect(await objectsOf(id)).toBe(2);
    expect((await listSnapshots()).snapshots.map((m) => m.snapshotId)).toEqual(real.plan.keep.map((k) => k.id));
  });

  it('bad input: an unknown cluster is refused, nothing started', async () => {
    const result = await lifeboat(['backup', 'etcd', '--cluster', 'nowhere', '--wait'], env);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/unknown cluster 'nowhere'; configured clusters: primary, standby/);
    const missing = await lifeboat(['backup', 'etcd'], env);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/required option '--cluster <name>' not specified/);
  });
});
