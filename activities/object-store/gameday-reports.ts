// Activities of the game day: what to prove (from the worker's configuration) and where the report goes.
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { ActivityDeps } from '../deps.js';
import type { LifeboatConfig } from '../../worker/config.js';
import type { GameDayReport, VerificationResult } from '../../model/verification.js';
import type { FailoverReport } from '../../workflows/failover.js';
import { failoverEntry, verificationEntry } from '../../model/gameday.js';
import { gameDayIdFor, gameDayReportKeys } from '../../model/gameday-layout.js';
import { renderGameDayReport } from '../../reports/gameday-report.js';
import { failureTypes } from '../../model/failures.js';

export interface GameDayPlanInput {
  /** Override the configured clusters (gameDay.clusters, default all). */
  clusters?: string[];
  /** Override the configured apps (gameDay.apps, default all). */
  apps?: string[];
  /** Override gameDay.freshBackups. */
  freshBackups?: boolean;
  /** Override gameDay.failover. */
  failover?: boolean;
}

export interface GameDayPlan {
  clusters: string[];
  apps: { name: string; cluster: string; verifyCluster: string }[];
  freshBackups: boolean;
  /** Apps failed over to their standby and back, auto-approved. Absent in plans made before game days did failovers. */
  failovers?: { name: string; from: string; to: string }[];
}

/** Where reports are kept on the machine that writes them: gameDay.reportDir, else the user's state directory. */
export const localReportDir = (gameDay: LifeboatConfig['gameDay']) =>
  gameDay.reportDir ?? join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'lifeboat', 'gamedays');

/** What a runbook's game day reports: its restore verifications' results and its apps' failover and failback reports. */
export interface RunbookGameDayInput {
  verifications: VerificationResult[];
  failovers: { name: string; from: string; to: string; failover: FailoverReport; failback: FailoverReport }[];
}

export function createGameDayActivities(deps: Pick<ActivityDeps, 'clusters' | 'apps' | 'gameDay' | 's3' | 'bucket'>) {
  const { apps: configuredApps, gameDay, s3, bucket } = deps;

  /** Renders the report (JSON, Markdown, HTML) and stores it in the object store and in the worker's report directory. */
  async function storeReport(
    report: GameDayReport,
  ): Promise<{ bucket: string; keys: { json: string; markdown: string; html: string }; localDir: string }> {
    const rendered = renderGameDayReport(report);
    const keys = gameDayReportKeys(report.id);
    await Promise.all([
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: keys.json, Body: rendered.json, ContentType: 'application/json' })),
      s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: keys.markdown,
          Body: rendered.markdown,
          ContentType: 'text/markdown; charset=utf-8',
        }),
      ),
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: keys.html, Body: rendered.html, ContentType: 'text/html; charset=utf-8' })),
    ]);
    const localDir = join(localReportDir(gameDay), report.id);
    await mkdir(localDir, { recursive: true });
    await Promise.all([
      writeFile(join(localDir, 'report.json'), rendered.json),
      writeFile(join(localDir, 'report.md'), rendered.markdown),
      writeFile(join(localDir, 'report.html'), rendered.html),
    ]);
    return { bucket, keys, localDir };
  }

  return {
    /** The clusters and apps this game day proves; unknown names are refused before anything runs. */
    planGameDay(input: GameDayPlanInput): Promise<GameDayPlan> {
      const clusterNames = [...deps.clusters.keys()];
      const appNames = configuredApps.map((a) => a.name);
      const clusters = input.clusters ?? gameDay.clusters ?? clusterNames;
      const apps = input.apps ?? gameDay.apps ?? appNames;
      const unknown = [
        ...clusters.filter((c) => !clusterNames.includes(c)).map((c) => `cluster '${c}' (configured: ${clusterNames.join(', ')})`),
        ...apps.filter((a) => !appNames.includes(a)).map((a) => `app '${a}' (configured: ${appNames.join(', ') || 'none'})`),
      ];
      if (unknown.length)
        throw ApplicationFailure.nonRetryable(`game day names unknown ${unknown.join('; ')}`, failureTypes.UnknownGameDayTarget);
      if (!clusters.length && !apps.length)
        throw ApplicationFailure.nonRetryable('game day has nothing to prove: no clusters and no apps', failureTypes.EmptyGameDay);
      return Promise.resolve({
        clusters,
        apps: apps.map((name) => {
          const app = configuredApps.find((a) => a.name === name)!;
          return { name, cluster: app.cluster, verifyCluster: app.verify.cluster };
        }),
        freshBackups: input.freshBackups ?? gameDay.freshBackups,
        failovers:
          (input.failover ?? gameDay.failover)
            ? apps.flatMap((name) => {
                const app = configuredApps.find((a) => a.name === name)!;
                return app.failover ? [{ name, from: app.cluster, to: app.failover.standby }] : [];
              })
            : [],
      });
    },

    /**
     * A game day run as a runbook document (quarterly-gameday.yaml): its verifications' and failovers'
     * results, judged against their objectives as the gameDay workflow judges them, stored as its report.
     */
    async gameDayReport(
      input: RunbookGameDayInput,
    ): Promise<{ id: string; passed: boolean; entries: number; keys: { json: string; markdown: string; html: string } }> {
      const { workflowExecution } = Context.current().info;
      const workflowId = workflowExecution?.workflowId ?? 'standalone';
      const finishedAt = new Date().toISOString();
      const entries = [
        ...input.verifications.map(verificationEntry),
        ...input.failovers.map((f) =>
          failoverEntry(
            f,
            [
              { name: 'failover', report: f.failover },
              { name: 'failback', report: f.failback },
            ],
            f.failover.requestedAt,
            finishedAt,
          ),
        ),
      ];
      const starts = [...input.verifications.map((v) => v.startedAt), ...input.failovers.map((f) => f.failover.requestedAt)].sort();
      const report: GameDayReport = {
        kind: 'lifeboat.gameday-report',
        formatVersion: 1,
        id: gameDayIdFor(workflowId),
        workflowId,
        runId: workflowExecution?.runId ?? '',
        startedAt: starts[0] ?? finishedAt,
        finishedAt,
        passed: entries.every((e) => e.passed),
        entries,
      };
      const stored = await storeReport(report);
      return { id: report.id, passed: report.passed, entries: entries.length, keys: stored.keys };
    },

    /** Renders the report (JSON, Markdown, HTML) and stores it in the object store and in the worker's report directory. */
    storeGameDayReport: storeReport,
  };
}

export type GameDayActivities = ReturnType<typeof createGameDayActivities>;
