// Lifeboat's own metrics: what the runbooks recorded, read from Temporal visibility (the runs' search
// attributes) and from the object store (snapshot manifests, game day reports), refreshed in the
// background at most every `metrics.refreshInterval`. A scrape reads the last values; it never queries
// Temporal or the store. Values come from those records, not from this process's memory, so a
// restarted worker reports the truth after its first refresh. The alert rules in deploy/prometheus/
// are written against these names.
import type { Client } from '@temporalio/client';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { LifeboatConfig } from './config.js';
import type { KeyRing } from './keys.js';
import { cronIntervalSeconds } from './metrics/schedule-interval.js';
import { StoreReader, type ClusterSnapshots } from './metrics/store.js';
import { VisibilityReader, type ClosedRun } from './metrics/visibility.js';

/** Where the values come from: each refreshed, and reported up or down, on its own. */
export const metricsSources = ['temporal', 'object-store'] as const;
export type MetricsSource = (typeof metricsSources)[number];

/** metrics.refreshInterval's default. */
export const defaultRefreshIntervalSeconds = 30;
/** How long one source's refresh may take before it is reported down. */
const refreshTimeoutMs = 60_000;

/** Runbooks whose runs are an app's failover. */
const failoverRunbooks = ['failover', 'failback'];
/** Runbooks whose per-app last runs get their own gauges. */
const veleroBackupRunbook = 'veleroBackup';
const veleroVerificationRunbook = 'veleroRestoreVerification';
const gameDayRunbook = 'gameDay';

/** Runbook durations: from a one-minute snapshot to a day-long game day. */
const durationBuckets = [5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 43200, 86400];

const seconds = (t: Date | string) => (typeof t === 'string' ? Date.parse(t) : t.getTime()) / 1000;

export interface LifeboatMetricsDeps {
  config: LifeboatConfig;
  registry: Registry;
  logger: Logger;
  /** A client of the worker's namespace (visibility queries). */
  client: Client;
  s3: S3Client;
  keyRing: KeyRing | undefined;
  /** When this worker started: runs closed before it are counted but not timed again. Default: now. */
  startedAt?: Date;
}

export interface LifeboatMetrics {
  /** Refreshes every source once (what the background loop does every refreshInterval). */
  refresh(): Promise<void>;
  /** Starts the background refreshes: one now, then one every refreshInterval. */
  start(): void;
  /** Stops them and waits for one under way. */
  stop(): Promise<void>;
}

export function createLifeboatMetrics(deps: LifeboatMetricsDeps): LifeboatMetrics {
  const { config, registry, logger } = deps;
  const startedAt = deps.startedAt ?? new Date();
  const registers = [registry];
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers });

  // Sources.
  const sourceUp = gauge('lifeboat_metrics_source_up', 'Whether the last refresh from this source succeeded (1) or failed (0)', ['source']);
  const sourceLastSuccess = gauge(
    'lifeboat_metrics_source_last_success_timestamp_seconds',
    'When the values from this source were last refreshed successfully',
    ['source'],
  );

  // From the configuration: what the alerts compare against.
  const snapshotInterval = gauge(
    'lifeboat_etcd_snapshot_schedule_interval_seconds',
    "The longest gap between two runs of the cluster's configured etcd snapshot schedule (clusters[].etcdSnapshots.schedule)",
    ['cluster'],
  );
  // Gauges of things that may not exist carry a label naming it: a gauge without labels always reports a value, 0 when unset.
  const gameDayInterval = gauge(
    'lifeboat_gameday_schedule_interval_seconds',
    'The longest gap between two runs of the configured game day schedule (gameDay.schedule)',
    ['cron'],
  );
  const appRpoObjective = gauge('lifeboat_app_rpo_objective_seconds', "The app's recovery point objective (apps[].objectives.rpo)", [
    'app',
  ]);
  const appRtoObjective = gauge('lifeboat_app_rto_objective_seconds', "The app's recovery time objective (apps[].objectives.rto)", ['app']);
  for (const c of config.clusters)
    if (c.etcdSnapshots.schedule) snapshotInterval.labels(c.name).set(cronIntervalSeconds(c.etcdSnapshots.schedule.cron));
  if (config.gameDay.schedule) gameDayInterval.labels(config.gameDay.schedule.cron).set(cronIntervalSeconds(config.gameDay.schedule.cron));
  for (const a of config.apps) {
    appRpoObjective.labels(a.name).set(a.objectives.rpo);
    appRtoObjective.labels(a.name).set(a.objectives.rto);
  }

  // From Temporal visibility.
  const runsTotal = new Counter({
    name: 'lifeboat_runbook_runs_total',
    help: 'Closed runs of the task queue that Temporal visibility records, by runbook and outcome (recounted from visibility after a restart)',
    labelNames: ['runbook', 'outcome'],
    registers,
  });
  const duration = new Histogram({
    name: 'lifeboat_runbook_duration_seconds',
    help: 'Start to close of runs closed since this worker started, from visibility, by runbook and outcome',
    labelNames: ['runbook', 'outcome'],
    buckets: durationBuckets,
    registers,
  });
  const lastRun = gauge(
    'lifeboat_runbook_last_run_timestamp_seconds',
    'Close time of the newest run of each runbook, outcome, cluster and app (empty label: the run names none)',
    ['runbook', 'outcome', 'cluster', 'app'],
  );
  const inProgress = gauge('lifeboat_runbook_runs_in_progress', 'Open runs, by runbook', ['runbook']);
  const awaiting = gauge('lifeboat_runbook_runs_awaiting_approval', "Open runs waiting for a person's approval, by runbook", ['runbook']);
  const awaitingSince = gauge(
    'lifeboat_runbook_awaiting_approval_since_timestamp_seconds',
    'Since when each open run waits for approval (LifeboatAwaitingApprovalSince)',
    ['runbook', 'workflow_id', 'cluster', 'app'],
  );
  const failoverInProgress = gauge(
    'lifeboat_failover_in_progress',
    "Open failover or failback runs of the app (1 while the app's traffic is being moved)",
    ['app'],
  );
  const veleroBackupLast = gauge(
    'lifeboat_velero_backup_last_success_timestamp_seconds',
    "Close time of the app's newest successful veleroBackup run",
    ['app'],
  );
  const veleroVerificationLast = gauge(
    'lifeboat_velero_verification_last_success_timestamp_seconds',
    "Close time of the app's newest veleroRestoreVerification run that verified",
    ['app'],
  );
  const veleroVerificationOk = gauge(
    'lifeboat_velero_verification_last_success',
    "Whether the app's newest Velero restore verification verified (1) or not (0)",
    ['app'],
  );
  const gameDayRunRto = gauge(
    'lifeboat_gameday_last_run_rto_seconds',
    'The worst RTO the newest closed game day run measured (LifeboatRtoSeconds)',
    ['workflow_id', 'outcome'],
  );

  // From the object store.
  const snapshots = gauge('lifeboat_etcd_snapshots', "The cluster's snapshots in the object store, by manifest status", [
    'cluster',
    'status',
  ]);
  const snapshotLast = gauge(
    'lifeboat_etcd_snapshot_last_success_timestamp_seconds',
    "When the cluster's newest snapshot in the object store finished (0: it has none)",
    ['cluster'],
  );
  const snapshotBytes = gauge('lifeboat_etcd_snapshot_bytes', "Size in the object store of the cluster's newest snapshot (encrypted)", [
    'cluster',
  ]);
  const verifiedLast = gauge(
    'lifeboat_etcd_snapshot_last_verification_timestamp_seconds',
    "When a restore verification last verified one of the cluster's snapshots (0: never)",
    ['cluster'],
  );
  const verificationOk = gauge(
    'lifeboat_etcd_snapshot_last_verification_success',
    "Whether the cluster's newest restore verification verified (1) or failed (0)",
    ['cluster'],
  );
  const refused = gauge(
    'lifeboat_etcd_snapshot_manifests_refused',
    "The cluster's manifests refused as edited, swapped or unreadable: never restored",
    ['cluster'],
  );
  // An age is computed at scrape time from the last refresh's timestamp.
  const newestVerifiedAt = new Map<string, number>();
  new Gauge({
    name: 'lifeboat_etcd_snapshot_newest_verified_age_seconds',
    help: "Age of the cluster's newest verified snapshot (from when it was taken)",
    labelNames: ['cluster'],
    registers,
    collect() {
      this.reset();
      for (const [cluster, at] of newestVerifiedAt) this.labels(cluster).set(Date.now() / 1000 - at);
    },
  });
  const gameDayFinished = gauge('lifeboat_gameday_last_finished_timestamp_seconds', 'When the newest game day report was written', [
    'gameday',
  ]);
  const gameDayPassed = gauge(
    'lifeboat_gameday_last_passed',
    'Whether the newest game day passed: every entry verified and met its RTO and RPO (1) or not (0)',
    ['gameday'],
  );
  const entryLabels = ['entry', 'kind', 'subject'] as const;
  const entryPassed = gauge('lifeboat_gameday_entry_passed', "Whether the newest game day's entry passed (1) or not (0)", entryLabels);
  const entryRto = gauge('lifeboat_gameday_rto_seconds', "The RTO the newest game day's entry measured", entryLabels);
  const entryRtoObjective = gauge(
    'lifeboat_gameday_rto_objective_seconds',
    "The RTO objective of the newest game day's entry",
    entryLabels,
  );
  const entryRpo = gauge('lifeboat_gameday_rpo_seconds', "The RPO (the backup's age) the newest game day's entry measured", entryLabels);
  const entryRpoObjective = gauge(
    'lifeboat_gameday_rpo_objective_seconds',
    "The RPO objective of the newest game day's entry",
    entryLabels,
  );

  const visibility = new VisibilityReader(deps.client, config.temporal.taskQueue);
  const store = new StoreReader(deps.s3, config.objectStore.bucket, deps.keyRing);
  /** The newest closed run of each runbook/outcome/cluster/app, as labels and close time. */
  const newestRuns = new Map<string, ClosedRun>();
  const newestOf = (runbook: string, app: string, outcome?: string) =>
    [...newestRuns.values()]
      .filter((r) => r.runbook === runbook && (r.app ?? '') === app && (!outcome || r.outcome === outcome))
      .reduce<ClosedRun | undefined>((a, b) => (!a || b.closeTime > a.closeTime ? b : a), undefined);

  async function refreshTemporal() {
    for (const run of await visibility.newlyClosed()) {
      runsTotal.labels(run.runbook, run.outcome).inc();
      if (run.closeTime >= startedAt)
        duration.labels(run.runbook, run.outcome).observe(Math.max(0, seconds(run.closeTime) - seconds(run.startTime)));
      const key = JSON.stringify([run.runbook, run.outcome, run.cluster ?? '', run.app ?? '']);
      const known = newestRuns.get(key);
      if (!known || run.closeTime > known.closeTime) newestRuns.set(key, run);
    }
    for (const run of newestRuns.values())
      lastRun.labels(run.runbook, run.outcome, run.cluster ?? '', run.app ?? '').set(seconds(run.closeTime));
    const apps = new Set([...config.apps.map((a) => a.name), ...[...newestRuns.values()].flatMap((r) => (r.app ? [r.app] : []))]);
    for (const app of apps) {
      const backup = newestOf(veleroBackupRunbook, app, 'succeeded');
      if (backup) veleroBackupLast.labels(app).set(seconds(backup.closeTime));
      const verified = newestOf(veleroVerificationRunbook, app, 'succeeded');
      if (verified) veleroVerificationLast.labels(app).set(seconds(verified.closeTime));
      const verification = newestOf(veleroVerificationRunbook, app);
      if (verification) veleroVerificationOk.labels(app).set(verification.outcome === 'succeeded' ? 1 : 0);
    }
    const gameDay = newestOf(gameDayRunbook, '');
    gameDayRunRto.reset();
    if (gameDay?.rtoSeconds !== undefined) gameDayRunRto.labels(gameDay.workflowId, gameDay.outcome).set(gameDay.rtoSeconds);

    const running = await visibility.running();
    inProgress.reset();
    awaiting.reset();
    awaitingSince.reset();
    failoverInProgress.reset();
    for (const runbook of new Set([...newestRuns.values()].map((r) => r.runbook))) {
      inProgress.labels(runbook).set(0);
      awaiting.labels(runbook).set(0);
    }
    for (const a of config.apps) if (a.failover) failoverInProgress.labels(a.name).set(0);
    for (const run of running) {
      inProgress.labels(run.runbook).inc();
      if (run.awaitingApprovalSince) {
        awaiting.labels(run.runbook).inc();
        awaitingSince.labels(run.runbook, run.workflowId, run.cluster ?? '', run.app ?? '').set(seconds(run.awaitingApprovalSince));
      }
      if (run.app && failoverRunbooks.includes(run.runbook)) failoverInProgress.labels(run.app).inc();
    }
  }

  function setCluster(cluster: string, s: ClusterSnapshots) {
    for (const [status, n] of Object.entries(s.byStatus)) snapshots.labels(cluster, status).set(n);
    snapshotLast.labels(cluster).set(s.newest ? seconds(s.newest.finishedAt) : 0);
    if (s.newest) snapshotBytes.labels(cluster).set(s.newest.object.storedBytes);
    else snapshotBytes.remove(cluster);
    verifiedLast.labels(cluster).set(s.lastVerified ? seconds(s.lastVerified) : 0);
    if (s.lastVerification) verificationOk.labels(cluster).set(s.lastVerification.verified ? 1 : 0);
    else verificationOk.remove(cluster);
    refused.labels(cluster).set(s.refused);
    if (s.newestVerified) newestVerifiedAt.set(cluster, seconds(s.newestVerified.startedAt));
    else newestVerifiedAt.delete(cluster);
  }

  async function refreshObjectStore() {
    const clusters = await Promise.all(config.clusters.map(async (c) => [c.name, await store.clusterSnapshots(c.name)] as const));
    for (const [cluster, s] of clusters) setCluster(cluster, s);
    const report = await store.newestGameDayReport();
    for (const g of [gameDayFinished, gameDayPassed, entryPassed, entryRto, entryRtoObjective, entryRpo, entryRpoObjective]) g.reset();
    if (!report) return;
    gameDayFinished.labels(report.id).set(seconds(report.finishedAt));
    gameDayPassed.labels(report.id).set(report.passed ? 1 : 0);
    for (const e of report.entries) {
      const labels = { entry: e.name, kind: e.kind, subject: e.verification?.subject ?? e.name.split('/').slice(1).join('/') };
      entryPassed.labels(labels).set(e.passed ? 1 : 0);
      const v = e.verification;
      if (!v) continue;
      entryRto.labels(labels).set(v.rtoSeconds);
      entryRtoObjective.labels(labels).set(v.objectives.rtoSeconds);
      entryRpo.labels(labels).set(v.rpoSeconds);
      entryRpoObjective.labels(labels).set(v.objectives.rpoSeconds);
    }
  }

  const sources: Record<MetricsSource, () => Promise<void>> = { temporal: refreshTemporal, 'object-store': refreshObjectStore };
  // A source that does not answer is reported down after refreshTimeoutMs and is not asked again
  // until its earlier refresh ends: a hung store never piles up requests.
  const inFlight = new Map<MetricsSource, Promise<void>>();
  async function refreshSource(source: MetricsSource) {
    let timer: NodeJS.Timeout | undefined;
    try {
      let pending = inFlight.get(source);
      if (!pending) {
        pending = sources[source]().finally(() => inFlight.delete(source));
        inFlight.set(source, pending);
      }
      await Promise.race([
        pending,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer in ${refreshTimeoutMs / 1000} s`)), refreshTimeoutMs);
        }),
      ]);
      sourceUp.labels(source).set(1);
      sourceLastSuccess.labels(source).set(Date.now() / 1000);
    } catch (err) {
      sourceUp.labels(source).set(0);
      logger.warn({ err, source }, 'metrics: refresh failed; the last values are kept');
    } finally {
      clearTimeout(timer);
    }
  }
  const refresh = async () => {
    await Promise.all(metricsSources.map(refreshSource));
  };

  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  let stopped = false;
  const loop = () => {
    current = refresh().finally(() => {
      if (!stopped) timer = setTimeout(loop, (config.metrics.refreshInterval ?? defaultRefreshIntervalSeconds) * 1000).unref();
    });
  };
  return {
    refresh,
    start() {
      for (const source of metricsSources) sourceUp.labels(source).set(0);
      loop();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}
