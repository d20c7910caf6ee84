// Activities of the game day: what to prove (from the worker's configuration) and where the report goes.
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { ActivityDeps } from '../deps.js';
import type { LifeboatConfig } from '../../worker/config.js';
import type { GameDayReport } from '../../model/verification.js';
import { gameDayReportKeys } from '../../model/gameday-layout.js';
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

export function createGameDayActivities(deps: Pick<ActivityDeps, 'clusters' | 'apps' | 'gameDay' | 's3' | 'bucket'>) {
  const { apps: configuredApps, gameDay, s3, bucket } = deps;
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

    /** Renders the report (JSON, Markdown, HTML) and stores it in the object store and in the worker's report directory. */
    async storeGameDayReport(
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
    },
  };
}

export type GameDayActivities = ReturnType<typeof createGameDayActivities>;
