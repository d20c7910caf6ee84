// `lifeboat gameday run | report | list`: the quarterly proof that backups restore.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { WorkflowFailedError } from '@temporalio/client';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import type { gameDay, GameDayInput } from '../workflows/gameDay.js';
import { cliIdentity } from './identity.js';
import type { GameDayReport } from '../model/verification.js';
import { gameDayReportKeys, gameDayReportPrefix } from '../model/gameday-layout.js';
import { localReportDir } from '../activities/object-store/gameday-reports.js';
import { appByName, clusterByName, loadConfig, type LifeboatConfig } from '../worker/config.js';
import { createS3Client } from '../worker/s3.js';
import { CliError, exitCodes, printJson, table } from './output.js';
import { runRunbook, temporalUiLink } from './runbook.js';
import { describeRootFailure } from '../model/failure-chain.js';
import { formatDuration } from '../model/durations.js';

export interface SavedReport {
  dir: string;
  html: string;
  markdown: string;
  json: string;
  report: GameDayReport;
}

/** Downloads a stored report into `<dir>/<id>/`; a missing one is a CliError naming the id. */
export async function saveReport(config: LifeboatConfig, id: string, dir: string): Promise<SavedReport> {
  const s3 = createS3Client(config);
  const keys = gameDayReportKeys(id);
  const target = join(dir, id);
  try {
    const get = async (key: string) =>
      (await s3.send(new GetObjectCommand({ Bucket: config.objectStore.bucket, Key: key }))).Body!.transformToString();
    const [json, markdown, html] = await Promise.all([get(keys.json), get(keys.markdown), get(keys.html)]).catch((err: Error) => {
      if (err.name === 'NoSuchKey')
        throw new CliError(
          `no game day report '${id}' in s3://${config.objectStore.bucket}/${gameDayReportPrefix} (see \`lifeboat gameday list\`)`,
        );
      throw err;
    });
    await mkdir(target, { recursive: true });
    const paths = { html: join(target, 'report.html'), markdown: join(target, 'report.md'), json: join(target, 'report.json') };
    await Promise.all([writeFile(paths.html, html), writeFile(paths.markdown, markdown), writeFile(paths.json, json)]);
    return { dir: target, ...paths, report: JSON.parse(json) as GameDayReport };
  } finally {
    s3.destroy();
  }
}

const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export function formatReportSummary(report: GameDayReport): string {
  return table(
    ['entry', 'backup', 'result', 'RTO (objective)', 'RPO (objective)', 'reason'],
    report.entries.map((e) => {
      const v = e.verification;
      return [
        e.name,
        v?.backup.id ?? e.backup?.id ?? '-',
        e.passed ? 'PASS' : 'FAIL',
        v ? `${formatDuration(v.rtoSeconds)} (${formatDuration(v.objectives.rtoSeconds)})${e.rtoMet ? '' : ' MISSED'}` : '-',
        v ? `${formatDuration(v.rpoSeconds)} (${formatDuration(v.objectives.rpoSeconds)})${e.rpoMet ? '' : ' MISSED'}` : '-',
        e.error ?? v?.failureReason ?? '',
      ];
    }),
  );
}

export function registerGameDayCommands(program: Command): void {
  const gameday = program.command('gameday').description('game days: automated test restores with measured RTO and RPO, and a report');
  gameday
    .command('run')
    .description("verify every configured cluster's etcd snapshots and every app's Velero backups, in parallel")
    .option('--cluster <names>', 'only these clusters (comma-separated)', list)
    .option('--app <names>', 'only these apps (comma-separated)', list)
    .option('--fresh', 'take a new backup of each first (default: gameDay.freshBackups)')
    .option('--no-fresh', 'prove the newest existing backups')
    .option('--dir <path>', 'where to save the report (default: gameDay.reportDir)')
    .option('--wait', 'wait for the report, showing progress')
    .option('--json', 'print the outcome as JSON')
    .action(async (opts: { cluster?: string[]; app?: string[]; fresh?: boolean; dir?: string; wait?: boolean; json?: boolean }) => {
      const config = loadConfig();
      opts.cluster?.forEach((c) => clusterByName(config, c));
      opts.app?.forEach((a) => appByName(config, a));
      const input: GameDayInput = { clusters: opts.cluster, apps: opts.app, freshBackups: opts.fresh, requestedBy: cliIdentity(config) };
      const workflowId = `gameday/${new Date().toISOString()}`;
      const ui = temporalUiLink(config, workflowId);
      await runRunbook<typeof gameDay>(
        config,
        { type: 'gameDay', workflowId, args: [input], startedJson: { temporalUi: ui } },
        opts,
        async (result) => {
          const { report, stored } = await result.catch((err: unknown) => {
            if (err instanceof WorkflowFailedError) throw new CliError(`game day ${workflowId} failed: ${describeRootFailure(err)}`);
            throw err;
          });
          const saved = await saveReport(config, report.id, opts.dir ?? localReportDir(config.gameDay));
          if (opts.json) {
            printJson({
              passed: report.passed,
              id: report.id,
              workflowId,
              temporalUi: ui,
              reportHtml: saved.html,
              reportMarkdown: saved.markdown,
              reportJson: saved.json,
              objectStore: Object.fromEntries(Object.entries(stored.keys).map(([k, key]) => [k, `s3://${stored.bucket}/${key}`])),
              results: report.entries,
            });
          } else {
            process.stdout.write(
              `${formatReportSummary(report)}\ngame day ${report.id}: ${report.passed ? 'PASSED' : 'FAILED'}\nreport: ${saved.html}\n        ${saved.markdown}\n        s3://${stored.bucket}/${stored.keys.html}\n${ui ? `Temporal UI: ${ui}\n` : ''}`,
            );
          }
          if (!report.passed) process.exitCode = exitCodes.failed;
        },
      );
    });

  gameday
    .command('report')
    .description("save a game day's report locally from the object store (and open it)")
    .argument('<id>', 'the game day id, as `gameday list` shows it')
    .option('--dir <path>', 'where to save it (default: gameDay.reportDir)')
    .option('--open', 'open the HTML report in a browser')
    .option('--json', 'print the report as JSON')
    .action(async (id: string, opts: { dir?: string; open?: boolean; json?: boolean }) => {
      if (!/^[A-Za-z0-9._-]+$/.test(id))
        throw new CliError(
          `game day id '${id}': expected letters, digits, '.', '_' or '-' (see \`lifeboat gameday list\`)`,
          exitCodes.badInput,
        );
      const config = loadConfig();
      const saved = await saveReport(config, id, opts.dir ?? localReportDir(config.gameDay));
      if (opts.json) printJson(saved.report);
      else
        process.stdout.write(
          `${formatReportSummary(saved.report)}\ngame day ${id}: ${saved.report.passed ? 'PASSED' : 'FAILED'}\nreport: ${saved.html}\n`,
        );
      if (opts.open) {
        const opened = await execa('xdg-open', [saved.html], { reject: false, detached: true, stdio: 'ignore' });
        if (opened.failed) process.stderr.write(`could not open a browser (${opened.shortMessage}); open ${saved.html}\n`);
      }
    });

  gameday
    .command('list')
    .description('game day reports in the object store, newest first')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = loadConfig();
      const s3 = createS3Client(config);
      try {
        const listed = await s3.send(
          new ListObjectsV2Command({ Bucket: config.objectStore.bucket, Prefix: gameDayReportPrefix, Delimiter: '/' }),
        );
        const ids = (listed.CommonPrefixes ?? [])
          .map((p) => p.Prefix!.slice(gameDayReportPrefix.length, -1))
          .sort()
          .reverse();
        if (opts.json) printJson({ gamedays: ids });
        else process.stdout.write(ids.length ? `${ids.join('\n')}\n` : 'no game day reports yet\n');
      } finally {
        s3.destroy();
      }
    });
}
