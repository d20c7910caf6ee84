// The data check activities (activities/data-check) with real processes and a real HTTP server of the
// test's own on loopback; the lab's configuration for the clusters (its kubeconfig files, and the
// primary's API server for a command that asks it through KUBECONFIG). Covered: which check is taken
// (the run's URL over the app's, an app found by namespace, refusals); a command that passes, fails,
// cannot start, times out or is cancelled (its whole process group killed, nothing left), with only the
// environment it is given and its `env` values masked in what it reports; the HTTP check's verdicts
// and what is retryable.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CancelledFailure } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { parse as parseYaml, stringify } from 'yaml';
import { createDataCheckActivities, type DataCheckRequest } from '../../../activities/data-check/index.js';
import { failureTypes } from '../../../model/failures.js';
import { bin } from '../../../lab/topology.js';
import { appSchema, type AppConfig } from '../../../worker/config.js';
import { createClients, loadKubeConfig, type ClusterClients } from '../../../worker/clients.js';
import { labConfig } from '../../helpers/lab.js';

const dir = mkdtempSync(join(tmpdir(), 'lb-data-check-test-'));
const config = labConfig();
const clusters = new Map<string, ClusterClients>(createClients(config).clusters);
const primary = clusters.get('primary')!;

// A kubeconfig whose current context points nowhere, with the primary's as a second context: only
// `clusters[].context` makes a command reach the primary.
const labKubeconfig = parseYaml(readFileSync(primary.config.kubeconfig!, 'utf8')) as {
  clusters: { name: string; cluster: Record<string, unknown> }[];
  contexts: { name: string; context: { cluster: string; user: string } }[];
  'current-context': string;
};
const twoContexts = join(dir, 'two-contexts.kubeconfig');
writeFileSync(
  twoContexts,
  stringify({
    ...labKubeconfig,
    clusters: [...labKubeconfig.clusters, { name: 'nowhere', cluster: { server: 'https://127.0.0.1:9' } }],
    contexts: [
      ...labKubeconfig.contexts,
      { name: 'nowhere', context: { cluster: 'nowhere', user: labKubeconfig.contexts[0]!.context.user } },
    ],
    'current-context': 'nowhere',
  }),
  { mode: 0o600 },
);
const withContext = { ...primary.config, name: 'with-context', kubeconfig: twoContexts, context: labKubeconfig['current-context'] };
clusters.set('with-context', { config: withContext, kubeConfig: loadKubeConfig(withContext), server: primary.server });

let server: Server;
let base = '';
const app = (name: string, namespaces: string[], dataCheck?: unknown, cluster = 'primary'): AppConfig =>
  appSchema.parse({ name, cluster, namespaces, verify: { cluster: 'standby' }, ...(dataCheck ? { dataCheck } : {}) });
const command = (script: string, extra: Record<string, unknown> = {}) => ({
  kind: 'command',
  command: [process.execPath, '-e', script],
  ...extra,
});
const pidFile = (name: string) => join(dir, `${name}.pid`);

process.env.LIFEBOAT_TEST_DB_PASSWORD = 'from-the-worker-env-7731';
process.env.LIFEBOAT_TEST_WORKER_SECRET = 'never-passed-4412';

/** The apps, made when a test runs: the HTTP check's URL is known once the server listens. */
const apps = (): AppConfig[] => [
  app('ledger', ['ledger'], command(`console.log('rows: 42'); console.error('replica lag 0 s')`)),
  app('env-report', ['env-report'], {
    ...command(
      `console.log(JSON.stringify(Object.keys(process.env).sort())); console.log('token ' + process.env.TOKEN + ' db ' + process.env.DB_PASSWORD); console.log('kubeconfig=' + process.env.KUBECONFIG + ' app=' + process.env.LIFEBOAT_APP + ' cluster=' + process.env.LIFEBOAT_CLUSTER + ' ns=' + process.env.LIFEBOAT_NAMESPACE)`,
    ),
    env: { TOKEN: 'sup3r-s3cret-token', DB_PASSWORD: { fromEnv: 'LIFEBOAT_TEST_DB_PASSWORD' }, SHORT: 'ab' },
  }),
  app(
    'failing',
    ['failing'],
    command(`console.log('checking 3 tables'); console.error('table orders: 0 rows, expected some'); process.exit(3)`),
  ),
  app('hanging', ['hanging'], {
    kind: 'command',
    // A shell that ignores SIGTERM, as its background child does (ignored signals are inherited):
    // only the SIGKILL after the grace ends them, and the child only because the whole group gets it.
    command: ['sh', '-c', `trap '' TERM; sleep 300 & echo $$ $! > ${pidFile('hanging')}; echo started; wait`],
    timeout: '1s',
  }),
  app('slow', ['slow'], {
    kind: 'command',
    command: ['sh', '-c', `sleep 300 & echo $$ $! > ${pidFile('slow')}; wait`],
  }),
  app('missing', ['missing'], { kind: 'command', command: [join(dir, 'no-such-check')] }),
  app('background', ['background'], {
    kind: 'command',
    command: ['sh', '-c', `sleep 300 & echo $$ $! > ${pidFile('background')}; echo done`],
  }),
  app('kube', ['kube'], { kind: 'command', command: [bin.kubectl, 'get', '--raw', '/version'] }, 'with-context'),
  app('kube-context', ['kube-context'], { kind: 'command', command: [bin.kubectl, 'config', 'current-context'] }, 'with-context'),
  app('web', ['web'], { kind: 'http', url: `${base}/check`, bodyContains: 'consistent' }),
  app('no-check', ['no-check']),
  app('shared-a', ['shared'], command('')),
  app('shared-b', ['shared'], command('')),
];

let answer = { status: 200, body: 'all consistent' };
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/hang') return;
    res.writeHead(answer.status, { 'content-type': 'text/plain' }).end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  delete process.env.LIFEBOAT_TEST_DB_PASSWORD;
  delete process.env.LIFEBOAT_TEST_WORKER_SECRET;
  rmSync(dir, { recursive: true, force: true });
});

const acts = () => createDataCheckActivities({ apps: apps(), clusters });
const request = (namespace: string, extra: Partial<DataCheckRequest> = {}): DataCheckRequest => ({
  cluster: 'primary',
  namespace,
  ...extra,
});
const heartbeats: unknown[] = [];
const environment = () => {
  const env = new MockActivityEnvironment({ workflowExecution: { workflowId: 'runbook/storage-failure/test', runId: 'r-1' } });
  env.on('heartbeat', (d: unknown) => heartbeats.push(d));
  return env;
};
const inActivity = <T>(fn: () => Promise<T>): Promise<T> => environment().run<[], T, () => Promise<T>>(fn);
const failureOf = (run: Promise<unknown>) =>
  run.then(
    () => {
      throw new Error('expected a failure');
    },
    (err: unknown) => err as { type?: string; nonRetryable?: boolean; message: string; details?: unknown[] },
  );

/** The live (not zombie) processes of process group `pgid`, read from /proc. */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') members.push(Number(entry));
  }
  return members;
}
const pidsOf = (name: string) => readFileSync(pidFile(name), 'utf8').trim().split(' ').map(Number) as [number, number];

describe('resolveDataCheck', () => {
  it("takes the named app's check, the run's URL over it, or the one app running in the namespace", async () => {
    const a = acts();
    expect(await a.resolveDataCheck(request('ledger', { app: 'ledger' }))).toMatchObject({
      kind: 'command',
      source: 'app',
      app: 'ledger',
      check: `app ledger's dataCheck: command ${JSON.stringify([process.execPath, '-e', `console.log('rows: 42'); console.error('replica lag 0 s')`])} (timeout 120 s)`,
    });
    expect(await a.resolveDataCheck(request('ledger', { app: 'ledger', url: 'http://admin:hunter22@ledger.example/check' }))).toEqual({
      kind: 'http',
      source: 'parameter',
      app: 'ledger',
      check: "the run's dataCheckUrl: GET http://admin:***@ledger.example/check (timeout 10 s)",
      detail: "the run's dataCheckUrl: GET http://admin:***@ledger.example/check (timeout 10 s)",
    });
    expect(await a.resolveDataCheck(request('web'))).toMatchObject({ kind: 'http', source: 'app', app: 'web' });
    // An env's values are never shown, only its names.
    expect((await a.resolveDataCheck(request('env-report'))).check).toContain('with TOKEN, DB_PASSWORD, SHORT set');
    expect(JSON.stringify(await a.resolveDataCheck(request('env-report')))).not.toContain('sup3r');
  });

  it('no app in the namespace, or one without a check: none, and why', async () => {
    const a = acts();
    expect(await a.resolveDataCheck(request('elsewhere'))).toMatchObject({
      kind: 'none',
      check: 'none (no configured app runs in namespace elsewhere on cluster primary)',
    });
    expect(await a.resolveDataCheck(request('no-check'))).toMatchObject({
      kind: 'none',
      app: 'no-check',
      check: "none (app 'no-check' has no dataCheck configured)",
    });
    // The app runs on primary; on standby it would only after a failover, and it has none configured.
    expect(await a.resolveDataCheck(request('ledger', { cluster: 'standby' }))).toMatchObject({ kind: 'none' });
  });

  it('refuses what cannot be told: two apps in the namespace, a named app elsewhere or without a check, an unknown app or cluster', async () => {
    const a = acts();
    const cases: [DataCheckRequest, string, string][] = [
      [request('shared'), failureTypes.DataCheckUnresolved, "apps 'shared-a', 'shared-b' all run in namespace shared on cluster primary"],
      [request('shared', { app: 'ledger' }), failureTypes.DataCheckUnresolved, "app 'ledger' does not run in namespace shared"],
      [request('no-check', { app: 'no-check' }), failureTypes.DataCheckUnresolved, "app 'no-check' has no data check"],
      [request('ledger', { app: 'ghost' }), failureTypes.UnknownApp, "unknown app 'ghost'"],
      [request('ledger', { cluster: 'atlantis' }), failureTypes.UnknownCluster, "unknown cluster 'atlantis'"],
    ];
    for (const [r, type, message] of cases) {
      const err = await failureOf(a.resolveDataCheck(r));
      expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({ type, nonRetryable: true });
      expect(err.message).toContain(message);
    }
  });
});

describe('runDataCheck: a command', () => {
  it('passes on exit 0, reporting which check ran and its output (stdout and stderr)', async () => {
    const result = await inActivity(() => acts().runDataCheck(request('ledger', { app: 'ledger' })));
    expect(result).toMatchObject({ kind: 'command', source: 'app', app: 'ledger', passed: true, exitCode: 0 });
    expect(result.output).toContain('rows: 42\n');
    expect(result.output).toContain('replica lag 0 s\n');
    expect(result.detail).toMatch(/^passed: app ledger's dataCheck: command .*, exit 0 in \d+\.\d s$/);
  });

  it("gets only what it is given: PATH and the like, KUBECONFIG of the run's cluster, LIFEBOAT_*, its env; values masked in the output", async () => {
    const result = await inActivity(() => acts().runDataCheck(request('env-report')));
    const [names, secrets, lifeboat] = result.output.trim().split('\n');
    const keys = JSON.parse(names!) as string[];
    expect(keys).toEqual(
      expect.arrayContaining(['DB_PASSWORD', 'KUBECONFIG', 'LIFEBOAT_APP', 'LIFEBOAT_CLUSTER', 'LIFEBOAT_NAMESPACE', 'PATH', 'TOKEN']),
    );
    expect(
      keys.filter(
        (k) =>
          !['HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'SHORT', 'PATH', 'KUBECONFIG', 'DB_PASSWORD', 'TOKEN'].includes(k) &&
          !k.startsWith('LIFEBOAT_'),
      ),
    ).toEqual([]);
    expect(keys).not.toContain('LIFEBOAT_TEST_WORKER_SECRET');
    expect(secrets).toBe('token *** db ***');
    expect(lifeboat).toBe(`kubeconfig=${primary.config.kubeconfig} app=env-report cluster=primary ns=env-report`);
    expect(JSON.stringify(result)).not.toMatch(/sup3r|from-the-worker-env/);
  });

  it('with clusters[].context, KUBECONFIG makes that context current: kubectl reaches that cluster', async () => {
    const kube = acts();
    const scratch = () => readdirSync(tmpdir()).filter((f) => f.startsWith('lifeboat-data-check-'));
    const before = scratch();
    const context = await inActivity(() => kube.runDataCheck(request('kube-context', { cluster: 'with-context' })));
    expect(context.output.trim()).toBe(labKubeconfig['current-context']);
    const version = await inActivity(() => kube.runDataCheck(request('kube', { cluster: 'with-context' })));
    expect(JSON.parse(version.output) as object).toHaveProperty('gitVersion');
    // The run's file naming the context is gone with the check.
    expect(scratch()).toEqual(before);
  });

  it('fails non-retryably on another exit status, with its output in the message and the details', async () => {
    const err = await failureOf(inActivity(() => acts().runDataCheck(request('failing'))));
    expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({ type: failureTypes.DataCheckFailed, nonRetryable: true });
    expect(err.message).toContain("app failing's dataCheck: command");
    expect(err.message).toContain('exited 3; its output: checking 3 tables\ntable orders: 0 rows, expected some');
    expect(err.details?.[0]).toMatchObject({
      passed: false,
      exitCode: 3,
      output: 'checking 3 tables\ntable orders: 0 rows, expected some\n',
    });
  });

  it('a program that is not there fails non-retryably as not runnable', async () => {
    const err = await failureOf(inActivity(() => acts().runDataCheck(request('missing'))));
    expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({ type: failureTypes.DataCheckNotRunnable, nonRetryable: true });
    expect(err.message).toContain('could not be started: no such program');
  });

  it('at its timeout its whole process group is killed (SIGTERM ignored, then SIGKILL): nothing is left, and it heartbeats meanwhile', async () => {
    heartbeats.length = 0;
    const started = Date.now();
    const err = await failureOf(inActivity(() => acts().runDataCheck(request('hanging'))));
    expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({ type: failureTypes.DataCheckTimedOut, nonRetryable: true });
    expect(err.message).toContain('did not finish within 1 s; its process group was killed; its output: started');
    // 1 s, then the 5 s grace the ignored SIGTERM leaves.
    expect(Date.now() - started).toBeGreaterThanOrEqual(5_500);
    expect(Date.now() - started).toBeLessThan(20_000);
    const [leader, child] = pidsOf('hanging');
    expect(groupMembers(leader)).toEqual([]);
    expect(groupMembers(child)).toEqual([]);
    expect(heartbeats.length).toBeGreaterThanOrEqual(1);
    expect(heartbeats[0]).toMatchObject({ outputBytes: 8 });
  }, 30_000);

  it('what the command leaves running in its group when it exits is killed with it', async () => {
    const result = await inActivity(() => acts().runDataCheck(request('background')));
    expect(result).toMatchObject({ passed: true, output: 'done\n' });
    const [leader, child] = pidsOf('background');
    expect(child).not.toBe(leader);
    expect(groupMembers(leader)).toEqual([]);
  });

  it('a cancelled activity kills the group and ends cancelled', async () => {
    const env = environment();
    const running = env.run<[], unknown, () => Promise<unknown>>(() => acts().runDataCheck(request('slow')));
    for (let i = 0; i < 100 && !existsSync(pidFile('slow')); i++) await new Promise((r) => setTimeout(r, 50));
    env.cancel();
    const err = await failureOf(running);
    expect(err).toBeInstanceOf(CancelledFailure);
    const [leader] = pidsOf('slow');
    expect(groupMembers(leader)).toEqual([]);
  }, 20_000);
});

describe('runDataCheck: HTTP', () => {
  it('passes on 200 with the text, reporting the answer', async () => {
    answer = { status: 200, body: 'ledger: all consistent' };
    const result = await inActivity(() => acts().runDataCheck(request('web')));
    expect(result).toMatchObject({ kind: 'http', source: 'app', app: 'web', passed: true, status: 200, output: 'ledger: all consistent' });
  });

  it("the run's URL wins over the app's check", async () => {
    answer = { status: 200, body: 'fine' };
    const result = await inActivity(() =>
      acts().runDataCheck(request('ledger', { app: 'ledger', url: `${base}/other`, bodyContains: 'fine' })),
    );
    expect(result).toMatchObject({ kind: 'http', source: 'parameter', passed: true });
    expect(result.check).toBe(`the run's dataCheckUrl: GET ${base}/other containing "fine" (timeout 10 s)`);
  });

  it('another status or a missing text fails non-retryably; 503 and no answer are retryable', async () => {
    const a = acts();
    answer = { status: 500, body: 'orders table corrupt' };
    let err = await failureOf(inActivity(() => a.runDataCheck(request('web'))));
    expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({ type: failureTypes.DataCheckFailed, nonRetryable: true });
    expect(err.message).toContain('answered 500, expected 200: orders table corrupt');
    answer = { status: 200, body: 'degraded' };
    err = await failureOf(inActivity(() => a.runDataCheck(request('web'))));
    expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({ type: failureTypes.DataCheckFailed, nonRetryable: true });
    expect(err.message).toContain('answered 200 without "consistent": degraded');
    answer = { status: 503, body: 'starting' };
    err = await failureOf(inActivity(() => a.runDataCheck(request('web'))));
    expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({ type: failureTypes.DataCheckUnavailable, nonRetryable: false });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    err = await failureOf(inActivity(() => a.runDataCheck(request('ledger', { url: `http://127.0.0.1:${port}/` }))));
    expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({ type: failureTypes.DataCheckUnavailable, nonRetryable: false });
    expect(err.message).toContain('connection refused');
  });
});
