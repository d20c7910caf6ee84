// Integration (lab: Temporal, MinIO, standby etcd; the test worker runs scratch etcd and kube-apiserver):
// `lifeboat gameday run | report | list` and `lifeboat verify` as an SRE runs them, and their bad input.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GameDayEntry, GameDayReport } from '../../model/verification.js';
import type { SnapshotManifest } from '../../model/snapshot-layout.js';
import { createS3Client } from '../../worker/s3.js';
import { labConfig, lifeboat, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { deleteSnapshotsOf, testClusterName, withTestClusters, writeConfigWithTestCluster } from '../helpers/test-cluster.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-gameday-cli-'));
const s3 = createS3Client(labConfig());
let w: TestWorker;
let env: Record<string, string>;
beforeAll(async () => {
  w = await startTestWorker();
  env = { LIFEBOAT_TEMPORAL_TASK_QUEUE: w.config.temporal.taskQueue };
});
afterAll(async () => {
  await w?.stop();
  s3.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** Seconds in a duration as the CLI shows it (`850 ms`, `4.2 s`, `42 s`, `3 min 05 s`). */
function shownSeconds(text: string): number {
  const m = /^(?:(\d+) min ?)?(?:([\d.]+) s)?$|^(\d+) ms$/.exec(text);
  if (!m) throw new Error(`not a duration the CLI shows: '${text}'`);
  return m[3] !== undefined ? Number(m[3]) / 1000 : Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
}

describe('lifeboat gameday', () => {
  it('run --wait --json prints passed, the local report and each result; report and list find it again', async () => {
    const result = await lifeboat(
      ['gameday', 'run', '--cluster', 'standby', '--app', '', '--fresh', '--wait', '--json', '--dir', dir],
      env,
    );
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    const out = JSON.parse(result.stdout) as {
      passed: boolean;
      id: string;
      reportHtml: string;
      temporalUi: string;
      results: GameDayEntry[];
    };
    expect(out.passed).toBe(true);
    expect(out.results.map((r) => [r.name, r.passed])).toEqual([['etcd/standby', true]]);
    expect(out.reportHtml).toBe(join(dir, out.id, 'report.html'));
    expect(readFileSync(out.reportHtml, 'utf8')).toContain('etcd/standby');
    expect(out.temporalUi).toMatch(/^http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\/gameday%2F/);

    const other = join(dir, 'again');
    const report = await lifeboat(['gameday', 'report', out.id, '--dir', other, '--json']);
    expect(report.exitCode).toBe(0);
    expect((JSON.parse(report.stdout) as GameDayReport).entries).toEqual(out.results);
    expect(existsSync(join(other, out.id, 'report.md'))).toBe(true);

    const listed = JSON.parse((await lifeboat(['gameday', 'list', '--json'])).stdout) as { gamedays: string[] };
    expect(listed.gamedays).toContain(out.id);
  }, 300_000);

  it('verify etcd --wait verifies the newest snapshot and prints the steps, the checks and RTO/RPO against objectives', async () => {
    // On a cluster of the test's own (the standby's etcd under another name), whose newest snapshot is
    // the one the test takes now: seconds old, so the RPO objective (6 h) is met.
    const cluster = testClusterName('cli-verify');
    const clusterEnv = { ...env, LIFEBOAT_CONFIG: writeConfigWithTestCluster(dir, [cluster], 'standby') };
    const verifier = await startTestWorker((c) => withTestClusters(c, [cluster], 'standby'));
    try {
      const taskQueue = { LIFEBOAT_TEMPORAL_TASK_QUEUE: verifier.config.temporal.taskQueue };
      const backup = await lifeboat(['backup', 'etcd', '--cluster', cluster, '--wait', '--json', '--skip-retention'], {
        ...clusterEnv,
        ...taskQueue,
      });
      expect(backup.exitCode).toBe(0);
      const { manifest } = JSON.parse(backup.stdout) as { manifest: SnapshotManifest };
      const result = await lifeboat(['verify', 'etcd', '--cluster', cluster, '--wait'], { ...clusterEnv, ...taskQueue });
      const age = (Date.now() - Date.parse(manifest.startedAt)) / 1000;
      expect(result.exitCode).toBe(0);
      expect(result.stdout.match(/^\S+(?= )/gm)!.slice(1, 10)).toEqual([
        'select',
        'fetch',
        'restore-db',
        'start-etcd',
        'check-inventory',
        'start-apiserver',
        'check-objects',
        'teardown',
        'record',
      ]);
      expect(result.stdout).toMatch(/^check-inventory +done /m);
      expect(result.stdout).toMatch(/^inventory +pass /m);
      expect(result.stdout).toContain(`\netcd backup ${manifest.snapshotId} of ${cluster} restored to scratch: VERIFIED\n`);
      const [, rto, rpo] = /^RTO (.+) \(objective 10 min: met\), RPO (.+) \(objective 6 h: met\)$/m.exec(result.stdout)!;
      expect(shownSeconds(rto!)).toBeLessThanOrEqual(age);
      expect(shownSeconds(rpo!)).toBeLessThanOrEqual(age);
    } finally {
      await verifier.stop();
      await deleteSnapshotsOf(s3, 'lifeboat', cluster);
    }
  }, 240_000);

  it.each([
    [['gameday', 'run', '--cluster', 'nope'], /unknown cluster 'nope'; configured clusters: primary, standby/],
    [['gameday', 'run', '--app', 'nope'], /unknown app 'nope'; configured apps: shop/],
    [['gameday', 'report', '../etc'], /game day id '\.\.\/etc': expected letters, digits/],
    [['verify', 'etcd', '--cluster', 'primary', '--object', 'pods/x'], /--object 'pods\/x': expected RESOURCE\/NAME/],
    [['verify', 'etcd', '--cluster', 'primary', '--snapshot', 'latest'], /--snapshot 'latest': expected a snapshot id/],
    [['verify', 'velero', '--app', 'nope'], /unknown app 'nope'/],
  ])('bad input %j exits 2 with a message and starts nothing', async (args, message) => {
    const result = await lifeboat(args, { LIFEBOAT_TEMPORAL_TASK_QUEUE: 'nobody-polls-this' });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });

  it('gameday report of an id that does not exist says so', async () => {
    const result = await lifeboat(['gameday', 'report', '2000-01-01T00-00-00.000Z', '--dir', dir]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/no game day report '2000-01-01T00-00-00\.000Z' in s3:\/\/lifeboat\/gamedays\//);
  });
});
