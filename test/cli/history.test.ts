// Integration (lab: Temporal, the primary and standby clusters, etcd, Velero and MinIO, which the health
// checks reach): `lifeboat history` lists real runs by the search attributes each records
// (workflows/run-lifecycle.ts), filtered by runbook, cluster, outcome and start; its query is the
// server's to read, not to be rewritten by a name; bad arguments stop before anything is asked.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WorkflowFailedError } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { labConfig, lifeboat, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { findRunbookIn } from '../helpers/runbooks.js';
import { historyQuery } from '../../model/run-history.js';
import { clusterAttribute, runbookAttribute } from '../../model/search-attributes.js';
import type { HistoryRun } from '../../cli/history.js';
import type { clusterHealth } from '../../workflows/clusterHealth.js';
import { temporalClient } from '../../worker/temporal.js';

const runbooksDir = fileURLToPath(new URL('../../../runbooks/', import.meta.url));
const id = randomUUID().slice(0, 8);
const ids = {
  health: `test-history-${id}/health-primary`,
  document: `test-history-${id}/runbook-cluster-health-standby`,
  failed: `test-history-${id}/health-nosuch`,
};
/** The health check the runbook document runs as its child: a run of its own, in the history too. */
const child = `${ids.document}/health`;

let worker: TestWorker;

/** `lifeboat history ARGS --json`, parsed. */
async function history(...args: string[]): Promise<{ query: string; runs: HistoryRun[] }> {
  const result = await lifeboat(['history', ...args, '--json']);
  if (result.exitCode !== 0) throw new Error(`history ${args.join(' ')}: exit ${result.exitCode}: ${result.stderr}`);
  return JSON.parse(result.stdout) as { query: string; runs: HistoryRun[] };
}
const mine = (runs: HistoryRun[]) =>
  runs
    .filter((r) => r.workflowId.startsWith(`test-history-${id}/`))
    .map((r) => r.workflowId)
    .sort();

beforeAll(async () => {
  worker = await startTestWorker();
  const { client, config } = worker;
  const taskQueue = config.temporal.taskQueue;
  await client.workflow.execute<typeof clusterHealth>('clusterHealth', {
    taskQueue,
    workflowId: ids.health,
    args: [{ clusters: ['primary'] }],
    workflowExecutionTimeout: '2 minutes',
  });
  await client.workflow.execute('runbook', {
    taskQueue,
    workflowId: ids.document,
    args: [findRunbookIn(runbooksDir, 'cluster-health', { cluster: 'standby' }, { startedBy: 'alice' })],
    workflowExecutionTimeout: '2 minutes',
  });
  await expect(
    client.workflow.execute<typeof clusterHealth>('clusterHealth', {
      taskQueue,
      workflowId: ids.failed,
      args: [{ clusters: ['nosuch'] }],
      workflowExecutionTimeout: '2 minutes',
    }),
  ).rejects.toThrow(WorkflowFailedError);
  // Visibility records a run's last attributes as it closes; wait until all four read as closed.
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
    const { count } = await client.workflow.count(`WorkflowId STARTS_WITH 'test-history-${id}/' AND LifeboatOutcome IS NOT NULL`);
    if (count === 4) break;
  }
}, 180_000);

afterAll(() => worker.stop());

describe('lifeboat history', () => {
  it('by runbook and cluster: the run with what it recorded (JSON for scripts)', async () => {
    const { runs, query } = await history('--runbook', 'clusterHealth', '--cluster', 'primary', '--since', '30m');
    expect(query).toContain("LifeboatCluster = 'primary'");
    expect(mine(runs)).toEqual([ids.health]);
    expect(runs.every((r) => r.runbook === 'clusterHealth' && r.cluster === 'primary')).toBe(true);
    const run = runs.find((r) => r.workflowId === ids.health)!;
    expect(run).toMatchObject({
      workflowType: 'clusterHealth',
      runbook: 'clusterHealth',
      cluster: 'primary',
      status: 'COMPLETED',
      outcome: 'succeeded',
      approvers: [],
      taskQueue: worker.config.temporal.taskQueue,
    });
    expect(run.durationSeconds).toBeGreaterThan(0);
    expect(Date.parse(run.closedAt!) - Date.parse(run.startedAt)).toBeCloseTo(run.durationSeconds * 1000, -1);
  });

  it('a runbook document by its name: who started it, on which cluster', async () => {
    const { runs } = await history('--runbook', 'cluster-health', '--since', '30m');
    expect(mine(runs)).toEqual([ids.document]);
    expect(runs.find((r) => r.workflowId === ids.document)).toMatchObject({
      workflowType: 'runbook',
      runbook: 'runbook/cluster-health',
      cluster: 'standby',
      requester: 'alice',
      outcome: 'succeeded',
    });
    const standby = await history('--cluster', 'standby', '--since', '30m');
    expect(mine(standby.runs)).toEqual([ids.document, child]);
    expect(standby.runs.find((r) => r.workflowId === child)).toMatchObject({
      runbook: 'clusterHealth',
      cluster: 'standby',
      outcome: 'succeeded',
      parentWorkflowId: ids.document,
    });
  });

  it('by outcome', async () => {
    const failed = await history('--outcome', 'failed', '--since', '30m');
    expect(mine(failed.runs)).toEqual([ids.failed]);
    expect(failed.runs.find((r) => r.workflowId === ids.failed)).toMatchObject({ status: 'FAILED', outcome: 'failed' });
    expect(mine((await history('--outcome', 'succeeded', '--since', '30m')).runs)).toEqual([ids.document, child, ids.health].sort());
    expect(mine((await history('--outcome', 'cancelled', '--since', '30m')).runs)).toEqual([]);
  });

  it('by start: --since leaves out runs started before it', async () => {
    const { runs } = await history('--since', '30m', '--limit', '1000');
    expect(mine(runs)).toEqual([...Object.values(ids), child].sort());
    const startedAfter = Date.parse(runs.find((r) => r.workflowId === ids.failed)!.closedAt!) + 2_000;
    await new Promise((r) => setTimeout(r, Math.max(0, startedAfter - Date.now())));
    const recent = await history('--since', '1s', '--limit', '1000');
    expect(mine(recent.runs)).toEqual([]);
    expect(recent.runs.every((r) => Date.parse(r.startedAt) >= startedAfter - 3_000)).toBe(true);
    expect((await history('--limit', '1')).runs).toHaveLength(1);
  });

  it('a table for people', async () => {
    const result = await lifeboat(['history', '--runbook', 'cluster-health', '--since', '30m']);
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(/^STARTED\s+RUNBOOK\s+CLUSTER\/APP\s+OUTCOME\s+DURATION\s+RTO\s+STARTED BY\s+APPROVED BY\s+WORKFLOW ID$/);
    const row = lines.find((l) => l.endsWith(ids.document));
    expect(row).toMatch(
      /^\d{4}-\d\d-\d\d \d\d:\d\dZ\s+runbook\/cluster-health\s+standby\s+succeeded\s+\S.*\s+-\s+alice\s+-\s+test-history-/,
    );
  });

  it.each([
    [['--outcome', 'broken'], "--outcome 'broken': expected one of succeeded, objectives-missed, failed, cancelled, running"],
    [['--since', '7x'], "--since '7x': expected a duration in whole seconds or more, such as 90s, 15m, 4h or 30d"],
    [['--since', '0d'], "--since '0d': expected a duration in whole seconds or more, such as 90s, 15m, 4h or 30d"],
    [['--limit', '0'], "--limit '0': expected a whole number from 1 to 10000"],
    [['--limit', 'ten'], "--limit 'ten': expected a whole number from 1 to 10000"],
    [
      ['--cluster', "primary' OR LifeboatCluster != 'x"],
      "--cluster: unknown cluster 'primary' OR LifeboatCluster != 'x'; configured clusters: primary, standby",
    ],
    [['--app', 'nosuch'], "--app: unknown app 'nosuch'; configured apps: shop"],
  ])('%j exits 2 naming the flag and what it expects, and asks Temporal nothing', async (args, message) => {
    // Temporal at an address nobody listens on: a command that went on to query would fail to connect (exit 1).
    const result = await lifeboat(['history', ...args], { LIFEBOAT_TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect({ exitCode: result.exitCode, stderr: result.stderr, stdout: result.stdout }).toEqual({
      exitCode: 2,
      stderr: `lifeboat: ${message}`,
      stdout: '',
    });
  });
});

describe('the query against the server', () => {
  it('a name with quotes is matched as a name, never read as more query', async () => {
    const client = await temporalClient(labConfig());
    const odd = `it's odd' OR LifeboatCluster != '${id}`;
    // A run that no worker will take, with its attributes given at start: only the query is under test.
    const handle = await client.workflow.start('clusterHealth', {
      taskQueue: `test-history-unpolled-${id}`,
      workflowId: `test-history-${id}/odd-name`,
      args: [{ clusters: [] }],
      typedSearchAttributes: [
        { key: runbookAttribute, value: 'clusterHealth' },
        { key: clusterAttribute, value: odd },
      ],
    });
    try {
      const list = async (cluster: string) => {
        const found: string[] = [];
        for await (const info of client.workflow.list({ query: historyQuery({ cluster, startedSince: new Date(Date.now() - 600_000) }) }))
          found.push(info.workflowId);
        return found;
      };
      let found: string[] = [];
      for (const deadline = Date.now() + 10_000; !found.length && Date.now() < deadline; await new Promise((r) => setTimeout(r, 250)))
        found = await list(odd);
      expect(found).toEqual([handle.workflowId]);
      // The same text meant as an injection: without quoting it would match every run that is not in cluster `id`.
      expect(await list(`x' OR LifeboatCluster != '${id}`)).toEqual([]);
    } finally {
      await handle.terminate('test done');
      await client.connection.close();
    }
  });

  it('a namespace without the search attributes: says which and how to register them (exit 1)', async () => {
    const client = await temporalClient(labConfig());
    const namespace = `test-history-${id}`;
    await client.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    try {
      let result = await lifeboat(['history'], { LIFEBOAT_TEMPORAL_NAMESPACE: namespace });
      // A namespace just registered may take a moment to be known to every service.
      for (let i = 0; i < 20 && /not found/i.test(result.stderr); i++) {
        await new Promise((r) => setTimeout(r, 500));
        result = await lifeboat(['history'], { LIFEBOAT_TEMPORAL_NAMESPACE: namespace });
      }
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(
        `the Temporal namespace '${namespace}' lacks Lifeboat's search attributes LifeboatRequester (Keyword),`,
      );
      expect(result.stderr).toContain('LifeboatRunbook (Keyword)');
      expect(result.stderr).toContain(
        `temporal operator search-attribute create --namespace ${namespace} --name LifeboatRunbook --type Keyword`,
      );
      expect(result.stderr).toContain(
        `temporal operator search-attribute create --namespace ${namespace} --name LifeboatApprovers --type KeywordList`,
      );
      expect(result.stderr).toContain(
        `tcld namespace search-attributes add --namespace ${namespace} --search-attribute "LifeboatRequester=Keyword"`,
      );
    } finally {
      await client.connection.operatorService.deleteNamespace({ namespace });
      await client.connection.close();
    }
  });
});
