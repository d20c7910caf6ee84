// Integration (lab: Temporal, MinIO, both clusters' etcd and kube-apiservers with kwok Nodes, both
// Velero servers): the worker's /metrics read back after each runbook kind it runs (an etcd snapshot,
// its restore verification, a Velero backup of the shop app and its restore verification, a game day),
// with values from what those runs recorded. The worker uses its own task queue and bucket, so the
// values are this test's runs only.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import type { etcdSnapshot, gameDay, restoreVerification, veleroBackup, veleroRestoreVerification } from '../../workflows/index.js';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createS3Client } from '../../worker/s3.js';
import { loadKeyRing } from '../../worker/keys.js';
import { createLifeboatMetrics } from '../../worker/metrics.js';
import { startTestWorker, type TestWorker } from '../helpers/lab.js';
import { freePort } from '../helpers/prometheus.js';
import { deleteBucket } from '../helpers/minio.js';

const stamp = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const bucket = `lb-metrics-${stamp}`;
const reportDir = mkdtempSync(join(tmpdir(), 'lifeboat-metrics-test-'));
let w: TestWorker;
let s3: S3Client;
let port: number;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format (`name{a="b",...} value`), parsed. */
const samples = (text: string): Sample[] =>
  text.split('\n').flatMap((line) => {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) return [];
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    return [{ name: m[1]!, labels, value: Number(m[3]) }];
  });

/** The worker's /metrics, parsed. */
const scrape = async (): Promise<Sample[]> => samples(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());

const matches = (s: Sample, name: string, labels: Record<string, string>) =>
  s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v);

/** The value of `name{labels}` once `accept` takes it (the worker refreshes every second); 30 s at most. */
async function metric(name: string, labels: Record<string, string>, accept: (v: number) => boolean): Promise<number> {
  let last: number | undefined;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
    last = (await scrape()).find((s) => matches(s, name, labels))?.value;
    if (last !== undefined && accept(last)) return last;
  }
  throw new Error(`${name}${JSON.stringify(labels)} is ${last}, not what was expected within 30 s`);
}

const id = (kind: string) => `${kind}/metrics-test-${stamp}-${randomBytes(2).toString('hex')}`;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const run = <W extends (input: any) => Promise<unknown>>(workflowType: string, workflowId: string, input: Parameters<W>[0]) =>
  w.client.workflow.execute<W>(workflowType, {
    taskQueue: w.config.temporal.taskQueue,
    workflowId,
    args: [input] as Parameters<W>,
    workflowExecutionTimeout: '10 minutes',
  });

beforeAll(async () => {
  port = await freePort();
  w = await startTestWorker((c) => ({
    ...c,
    objectStore: { ...c.objectStore, bucket },
    gameDay: { ...c.gameDay, reportDir },
    metrics: { port, refreshInterval: 1 },
  }));
  s3 = createS3Client(w.config);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
}, 60_000);

afterAll(async () => {
  await w?.stop();
  if (s3) {
    await deleteBucket(s3, bucket).catch(() => undefined);
    s3.destroy();
  }
  rmSync(reportDir, { recursive: true, force: true });
}, 60_000);

describe('worker metrics after each runbook kind', () => {
  it('before any run: both sources up, nothing in the bucket, the configured schedule and objectives', async () => {
    await metric('lifeboat_metrics_source_up', { source: 'temporal' }, (v) => v === 1);
    await metric('lifeboat_metrics_source_up', { source: 'object-store' }, (v) => v === 1);
    expect(await metric('lifeboat_etcd_snapshot_last_success_timestamp_seconds', { cluster: 'primary' }, () => true)).toBe(0);
    // The lab's primary snapshots at 0 */6 * * *, the standby at 0 */12 * * *.
    expect(await metric('lifeboat_etcd_snapshot_schedule_interval_seconds', { cluster: 'primary' }, () => true)).toBe(21600);
    expect(await metric('lifeboat_app_rpo_objective_seconds', { app: 'shop' }, () => true)).toBe(
      w.config.apps.find((a) => a.name === 'shop')!.objectives.rpo,
    );
    expect(await metric('lifeboat_failover_in_progress', { app: 'shop' }, () => true)).toBe(0);
  });

  let snapshotStarted: number;
  it('an etcd snapshot: its time, its size, the run counted and timed', async () => {
    snapshotStarted = Date.now() / 1000;
    const { manifest } = await run<typeof etcdSnapshot>('etcdSnapshot', id('etcd-snapshot/primary'), {
      cluster: 'primary',
      skipRetention: true,
    });
    const last = await metric('lifeboat_etcd_snapshot_last_success_timestamp_seconds', { cluster: 'primary' }, (v) => v > 0);
    expect(last).toBeGreaterThan(snapshotStarted);
    expect(last).toBeCloseTo(Date.parse(manifest.finishedAt) / 1000, 3);
    expect(await metric('lifeboat_etcd_snapshot_bytes', { cluster: 'primary' }, (v) => v > 0)).toBe(manifest.object.storedBytes);
    expect(await metric('lifeboat_etcd_snapshots', { cluster: 'primary', status: 'uploaded' }, (v) => v > 0)).toBe(1);
    expect(await metric('lifeboat_runbook_runs_total', { runbook: 'etcdSnapshot', outcome: 'succeeded' }, (v) => v > 0)).toBe(1);
    expect(await metric('lifeboat_runbook_duration_seconds_count', { runbook: 'etcdSnapshot', outcome: 'succeeded' }, (v) => v > 0)).toBe(
      1,
    );
    expect(
      await metric('lifeboat_runbook_duration_seconds_sum', { runbook: 'etcdSnapshot', outcome: 'succeeded' }, (v) => v > 0),
    ).toBeLessThan(Date.now() / 1000 - snapshotStarted + 1);
    expect(
      await metric(
        'lifeboat_runbook_last_run_timestamp_seconds',
        { runbook: 'etcdSnapshot', outcome: 'succeeded', cluster: 'primary' },
        (v) => v > 0,
      ),
    ).toBeGreaterThan(snapshotStarted);
    // Never verified yet.
    expect(await metric('lifeboat_etcd_snapshot_last_verification_timestamp_seconds', { cluster: 'primary' }, () => true)).toBe(0);
  }, 300_000);

  it("an etcd restore verification: the cluster's last verification, its success, the verified snapshot's age", async () => {
    const started = Date.now() / 1000;
    const result = await run<typeof restoreVerification>('restoreVerification', id('restore-verification/etcd/primary'), {
      kind: 'etcd',
      cluster: 'primary',
    });
    expect(result.passed).toBe(true);
    expect(
      await metric('lifeboat_etcd_snapshot_last_verification_timestamp_seconds', { cluster: 'primary' }, (v) => v > 0),
    ).toBeGreaterThan(started);
    expect(await metric('lifeboat_etcd_snapshot_last_verification_success', { cluster: 'primary' }, () => true)).toBe(1);
    expect(await metric('lifeboat_etcd_snapshots', { cluster: 'primary', status: 'verified' }, (v) => v > 0)).toBe(1);
    const age = await metric('lifeboat_etcd_snapshot_newest_verified_age_seconds', { cluster: 'primary' }, (v) => v > 0);
    // The snapshot was taken after the previous test began, and is older than this verification.
    expect(age).toBeLessThan(Date.now() / 1000 - snapshotStarted + 1);
    expect(age).toBeGreaterThan(Date.now() / 1000 - started);
    expect(await metric('lifeboat_runbook_runs_total', { runbook: 'restoreVerification', outcome: 'succeeded' }, (v) => v > 0)).toBe(1);
  }, 300_000);

  let backupName: string;
  it("a Velero backup of the shop app: the app's last backup, from the run's search attributes", async () => {
    const started = Date.now() / 1000;
    const backup = await run<typeof veleroBackup>('veleroBackup', id('velero-backup/shop'), {
      app: 'shop',
      ttl: '2h',
    });
    expect(backup.phase).toBe('Completed');
    backupName = backup.name;
    expect(await metric('lifeboat_velero_backup_last_success_timestamp_seconds', { app: 'shop' }, (v) => v > started)).toBeLessThanOrEqual(
      Date.now() / 1000,
    );
    expect(
      await metric(
        'lifeboat_runbook_last_run_timestamp_seconds',
        { runbook: 'veleroBackup', outcome: 'succeeded', app: 'shop' },
        (v) => v > started,
      ),
    ).toBeGreaterThan(started);
    expect(await metric('lifeboat_runbook_runs_total', { runbook: 'veleroBackup', outcome: 'succeeded' }, (v) => v > 0)).toBe(1);
  }, 300_000);

  it("a Velero restore verification of that backup: the app's last verification and its success", async () => {
    const started = Date.now() / 1000;
    const result = await run<typeof veleroRestoreVerification>('veleroRestoreVerification', id('restore-verification/velero/shop'), {
      app: 'shop',
      backupName,
    });
    expect(result.passed).toBe(true);
    expect(
      await metric('lifeboat_velero_verification_last_success_timestamp_seconds', { app: 'shop' }, (v) => v > started),
    ).toBeGreaterThan(started);
    expect(await metric('lifeboat_velero_verification_last_success', { app: 'shop' }, () => true)).toBe(1);
  }, 600_000);

  it("a game day of the primary's etcd: the report's outcome, RTO and RPO against objectives, the run's RTO", async () => {
    const started = Date.now() / 1000;
    const workflowId = id('gameday');
    const { report } = await run<typeof gameDay>('gameDay', workflowId, { clusters: ['primary'], apps: [] });
    const entry = report.entries.find((e) => e.name === 'etcd/primary')!;
    const labels = { gameday: report.id };
    expect(await metric('lifeboat_gameday_last_finished_timestamp_seconds', labels, (v) => v > started)).toBe(
      Date.parse(report.finishedAt) / 1000,
    );
    expect(await metric('lifeboat_gameday_last_passed', labels, () => true)).toBe(report.passed ? 1 : 0);
    const entryLabels = { entry: 'etcd/primary', kind: 'etcd', subject: 'primary' };
    expect(await metric('lifeboat_gameday_rto_seconds', entryLabels, (v) => v > 0)).toBe(entry.verification!.rtoSeconds);
    expect(await metric('lifeboat_gameday_rto_objective_seconds', entryLabels, () => true)).toBe(
      w.config.clusters[0]!.restoreVerification.objectives.rto,
    );
    expect(await metric('lifeboat_gameday_rpo_seconds', entryLabels, () => true)).toBe(entry.verification!.rpoSeconds);
    expect(await metric('lifeboat_gameday_rpo_objective_seconds', entryLabels, () => true)).toBe(
      w.config.clusters[0]!.restoreVerification.objectives.rpo,
    );
    expect(await metric('lifeboat_gameday_entry_passed', entryLabels, () => true)).toBe(entry.passed ? 1 : 0);
    // The run's own record (LifeboatRtoSeconds): the game day's worst RTO.
    expect(await metric('lifeboat_gameday_last_run_rto_seconds', { workflow_id: workflowId }, (v) => v > 0)).toBe(
      entry.verification!.rtoSeconds,
    );
  }, 600_000);

  it('a restarted worker: the same counts and values at its first refresh, and no run timed twice', async () => {
    const running = await scrape();
    const registry = new Registry();
    const restarted = createLifeboatMetrics({
      config: w.config,
      registry,
      logger: pino({ level: 'warn' }),
      client: w.client,
      s3,
      keyRing: loadKeyRing(w.config.encryption!),
    });
    await restarted.refresh();
    const fresh = samples(await registry.metrics());
    const pick = (from: Sample[], name: string) =>
      from
        .filter((x) => x.name === name)
        .map((x) => [JSON.stringify(x.labels), x.value])
        .sort();
    for (const name of [
      'lifeboat_runbook_runs_total',
      'lifeboat_runbook_last_run_timestamp_seconds',
      'lifeboat_etcd_snapshot_last_success_timestamp_seconds',
      'lifeboat_etcd_snapshot_last_verification_timestamp_seconds',
      'lifeboat_etcd_snapshot_bytes',
      'lifeboat_velero_backup_last_success_timestamp_seconds',
      'lifeboat_gameday_rto_seconds',
    ])
      expect([name, pick(fresh, name)]).toEqual([name, pick(running, name)]);
    expect(pick(fresh, 'lifeboat_runbook_runs_total').map(([, v]) => v)).not.toContain(0);
    expect(pick(running, 'lifeboat_runbook_runs_total').length).toBeGreaterThanOrEqual(5);
    // Every run closed before the restart: counted, but not observed again in the duration histogram.
    expect(fresh.filter((x) => x.name === 'lifeboat_runbook_duration_seconds_count')).toEqual([]);
    expect(running.filter((x) => x.name === 'lifeboat_runbook_duration_seconds_count').length).toBeGreaterThanOrEqual(5);
    await restarted.stop();
  }, 60_000);
});
