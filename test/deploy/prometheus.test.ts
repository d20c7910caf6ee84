// Integration (lab: Temporal, MinIO, the primary cluster's etcd; tool: Prometheus from
// lab/install-tools.sh). The shipped alert rules evaluated by a real Prometheus that this test runs on
// loopback, scraping a `lifeboat worker` process it runs (its own task queue, its own bucket, so nobody
// else's snapshots move the values): a Temporal Schedule of etcd snapshots of the primary keeps
// LifeboatEtcdSnapshotMissing quiet; once the test deletes the schedule the alert goes pending, then fires.
// A restore verification that cannot pass (it requires an object the cluster does not have) fires
// LifeboatEtcdVerificationFailed; a good one resolves it.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import type { ResultPromise } from 'execa';
import { parse, stringify } from 'yaml';
import { labConfigFile } from '../../lab/topology.js';
import { loadConfig, type LifeboatConfig } from '../../worker/config.js';
import { createS3Client } from '../../worker/s3.js';
import { temporalClient, type LifeboatClient } from '../../worker/temporal.js';
import { rulesFilePath, type RuleGroups } from '../../model/prometheus-rules.js';
import { polled, startWorkerProcess } from '../helpers/worker-process.js';
import { freePort, startPrometheus, type PrometheusAlert, type TestPrometheus } from '../helpers/prometheus.js';
import { deleteBucket } from '../helpers/minio.js';

const repo = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
const stamp = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const taskQueue = `test-prometheus-${stamp}`;
const bucket = `lb-prom-${stamp}`;
const scheduleId = `test-prometheus/etcd-snapshot/primary/${stamp}`;
/** The worker's own snapshot schedule for the primary: every minute, so "twice its schedule" is 2 minutes. */
const snapshotCron = '* * * * *';
const alertName = 'LifeboatEtcdSnapshotMissing';

let dir: string;
let config: LifeboatConfig;
let s3: S3Client;
let client: LifeboatClient;
let worker: ResultPromise;
let prometheus: TestPrometheus;
let metricsPort: number;
let runtimePort: number;

const until = async <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> => {
  for (const deadline = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 1000))) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
  }
};
const one = async (expr: string) => (await prometheus.query(expr))[0]?.value;
const primaryAlert = async (): Promise<PrometheusAlert | undefined> =>
  (await prometheus.alerts()).find((a) => a.labels.alertname === alertName && a.labels.cluster === 'primary');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lifeboat-prometheus-'));
  [metricsPort, runtimePort] = [await freePort(), await freePort()];
  // The lab's configuration, with this test's bucket, snapshot schedule and metrics ports.
  const raw = parse(await readFile(labConfigFile, 'utf8')) as {
    objectStore: { bucket: string };
    clusters: { name: string; etcdSnapshots: { schedule?: unknown } }[];
    metrics?: unknown;
  };
  raw.objectStore.bucket = bucket;
  raw.clusters.find((c) => c.name === 'primary')!.etcdSnapshots.schedule = { cron: snapshotCron, catchupWindow: '1h' };
  raw.metrics = { port: metricsPort, runtimePort, refreshInterval: '2s' };
  const file = join(dir, 'lifeboat.yaml');
  await writeFile(file, stringify(raw));
  config = loadConfig({ file, env: {} });

  s3 = createS3Client(config);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  client = await temporalClient(config);
  worker = startWorkerProcess(taskQueue, repo('runbooks'), {
    LIFEBOAT_CONFIG: file,
    LIFEBOAT_METRICS_PORT: String(metricsPort),
    LIFEBOAT_METRICS_RUNTIME_PORT: String(runtimePort),
  });
  await polled(client, config.temporal.namespace, taskQueue);

  // The shipped rules with only `for:` shortened (to 5 s), so the test waits minutes, not the rules' 10m.
  const rules = parse(await readFile(repo(rulesFilePath), 'utf8')) as RuleGroups;
  for (const rule of rules.groups.flatMap((g) => g.rules)) if (rule.for !== undefined) rule.for = '5s';
  prometheus = await startPrometheus({
    dir: join(dir, 'prometheus'),
    rules: { 'lifeboat-rules.yml': stringify(rules) },
    jobs: [
      { name: 'lifeboat-worker', targets: [`127.0.0.1:${metricsPort}`] },
      { name: 'lifeboat-worker-runtime', targets: [`127.0.0.1:${runtimePort}`] },
    ],
    interval: '2s',
  });
}, 120_000);

afterAll(async () => {
  await client?.schedule
    .getHandle(scheduleId)
    .delete()
    .catch(() => undefined);
  await prometheus?.stop();
  worker?.kill('SIGTERM');
  await worker;
  if (s3) {
    await deleteBucket(s3, bucket).catch(() => undefined);
    s3.destroy();
  }
  await client?.connection.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 120_000);

describe('a real Prometheus with the shipped rules, scraping a Lifeboat worker', () => {
  it("scrapes the worker's metrics and the Temporal SDK's runtime metrics", async () => {
    await until('both targets up', 60_000, async () =>
      (await one('min(up{job=~"lifeboat-worker|lifeboat-worker-runtime"})')) === 1 &&
      (await prometheus.query('up{job=~"lifeboat-worker|lifeboat-worker-runtime"}')).length === 2
        ? true
        : undefined,
    );
    expect(await one('lifeboat_etcd_snapshot_schedule_interval_seconds{cluster="primary"}')).toBe(60);
    // The standby keeps the lab's schedule (0 */12 * * *).
    expect(await one('lifeboat_etcd_snapshot_schedule_interval_seconds{cluster="standby"}')).toBe(43200);
    await until('both sources up', 30_000, async () =>
      (await prometheus.query('lifeboat_metrics_source_up == 1')).length === 2 ? true : undefined,
    );
    // The SDK's own metrics, from Runtime.install's Prometheus exporter: this worker's pollers.
    expect(await one(`sum(temporal_num_pollers{task_queue="${taskQueue}"})`)).toBeGreaterThan(0);
  });

  it('LifeboatEtcdSnapshotMissing stays quiet while the schedule runs, goes pending then firing once it stops', async () => {
    const startedAt = Date.now() / 1000;
    // The empty bucket: no snapshot of the primary at all, which the alert reports at once.
    expect((await until('the alert on an empty bucket', 60_000, primaryAlert)).state).toMatch(/pending|firing/);

    const schedule = await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: '20s' }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'etcdSnapshot',
        taskQueue,
        workflowId: `etcd-snapshot/primary/prometheus-test-${stamp}`,
        args: [{ cluster: 'primary', skipRetention: true }],
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    });
    await schedule.trigger();
    const lastSnapshot = await until('a snapshot in the metrics', 180_000, async () => {
      const v = await one('lifeboat_etcd_snapshot_last_success_timestamp_seconds{cluster="primary"}');
      return v !== undefined && v > startedAt ? v : undefined;
    });
    expect(await one('lifeboat_etcd_snapshot_bytes{cluster="primary"}')).toBeGreaterThan(0);
    await until('the alert resolved', 60_000, async () => ((await primaryAlert()) ? undefined : true));

    await schedule.delete();
    // A run already started finishes; the alert is about the last snapshot whatever it is.
    const seen: { state: string; at: number; value: number }[] = [];
    const firing = await until('the alert firing', 300_000, async () => {
      const alert = await primaryAlert();
      if (alert && seen.at(-1)?.state !== alert.state) seen.push({ state: alert.state, at: Date.now() / 1000, value: Number(alert.value) });
      return alert?.state === 'firing' ? alert : undefined;
    });
    const final = (await one('lifeboat_etcd_snapshot_last_success_timestamp_seconds{cluster="primary"}'))!;
    expect(final).toBeGreaterThanOrEqual(lastSnapshot);
    expect(seen.map((s) => s.state)).toEqual(['pending', 'firing']);
    // Pending only once twice the schedule (120 s) had passed since the last snapshot finished.
    expect(seen[0]!.at - final).toBeGreaterThanOrEqual(120);
    expect(seen[0]!.value).toBeGreaterThan(120);
    expect(firing.labels.severity).toBe('critical');
    expect(firing.annotations.summary).toBe('No successful etcd snapshot of primary within twice its schedule');
    expect(firing.annotations.runbook).toContain('etcd-snapshot/primary');
  }, 600_000);

  it('LifeboatEtcdVerificationFailed fires when a verification fails, and resolves when the next one verifies', async () => {
    const verificationAlert = async () =>
      (await prometheus.alerts()).find((a) => a.labels.alertname === 'LifeboatEtcdVerificationFailed' && a.labels.cluster === 'primary');
    const verify = (tag: string, objects: { resource: 'namespaces'; name: string }[]) =>
      client.workflow.execute('restoreVerification', {
        taskQueue,
        workflowId: `restore-verification/etcd/primary/prometheus-test-${stamp}-${tag}`,
        args: [{ kind: 'etcd', cluster: 'primary', objects }],
        workflowExecutionTimeout: '5 minutes',
      });
    const missing = `lifeboat-no-such-namespace-${stamp}`;
    await expect(verify('broken', [{ resource: 'namespaces', name: missing }])).rejects.toThrow();
    const fired = await until('the verification alert', 60_000, async () => {
      const alert = await verificationAlert();
      return alert?.state === 'firing' ? alert : undefined;
    });
    expect(fired.labels.severity).toBe('critical');
    expect(fired.annotations.summary).toBe("The latest restore verification of primary's etcd snapshot failed");
    expect(await one('lifeboat_etcd_snapshots{cluster="primary",status="failed"}')).toBeGreaterThan(0);

    // The failed snapshot is never verified again: a fresh one is.
    await client.workflow.execute('etcdSnapshot', {
      taskQueue,
      workflowId: `etcd-snapshot/primary/prometheus-test-${stamp}-fresh`,
      args: [{ cluster: 'primary', skipRetention: true }],
      workflowExecutionTimeout: '5 minutes',
    });
    await verify('good', []);
    await until('the verification alert resolved', 60_000, async () => ((await verificationAlert()) ? undefined : true));
    expect(await one('lifeboat_etcd_snapshot_last_verification_success{cluster="primary"}')).toBe(1);
  }, 300_000);
});
