// Integration (lab: Temporal): bad CLI input gets a clear error and starts nothing.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import { labConfig, lifeboat } from '../helpers/lab.js';
import { temporalClient } from '../../worker/temporal.js';

const client = await temporalClient(labConfig());
afterAll(() => client.connection.close());

/** Workflows ever started on `taskQueue`: one of the test's own, so only what the command started counts. */
const startedOn = async (taskQueue: string) => (await client.workflow.count(`TaskQueue = '${taskQueue}'`)).count;

describe('lifeboat CLI bad input', () => {
  // Each command runs on a task queue of its own that no worker polls: a command that went past the
  // name check would stop at "no worker is polling" (exit 1) or start a run there, which is counted.
  it.each([
    [['backup', 'etcd', '--cluster', 'nosuch'], "--cluster: unknown cluster 'nosuch'; configured clusters: primary, standby"],
    [['backup', 'velero', '--cluster', 'nosuch'], "--cluster: unknown cluster 'nosuch'; configured clusters: primary, standby"],
    [['backup', 'velero', '--app', 'nosuch'], "--app: unknown app 'nosuch'; configured apps: shop"],
    [['verify', 'etcd', '--cluster', 'nosuch'], "--cluster: unknown cluster 'nosuch'; configured clusters: primary, standby"],
    [['verify', 'velero', '--app', 'nosuch'], "--app: unknown app 'nosuch'; configured apps: shop"],
    [['failover', 'start', '--app', 'nosuch', '--reason', 'drill'], "--app: unknown app 'nosuch'; configured apps: shop"],
    [['gameday', 'run', '--cluster', 'nosuch'], "--cluster: unknown cluster 'nosuch'; configured clusters: primary, standby"],
    [['gameday', 'run', '--app', 'nosuch'], "--app: unknown app 'nosuch'; configured apps: shop"],
    [['snapshots', 'list', '--cluster', 'nosuch'], "--cluster: unknown cluster 'nosuch'; configured clusters: primary, standby"],
    [['snapshots', 'prune', '--cluster', 'nosuch'], "--cluster: unknown cluster 'nosuch'; configured clusters: primary, standby"],
    [['cluster', 'health', '--cluster', 'nosuch'], "--cluster: unknown cluster 'nosuch'; configured clusters: primary, standby"],
    [['cluster', 'health', '--cluster', 'primary', 'nosuch'], "--cluster: unknown cluster 'nosuch'; configured clusters: primary, standby"],
  ])('%j names the argument and the configured names, exits 2 and starts nothing', async (args, message) => {
    const taskQueue = `test-cli-${randomUUID()}`;
    const result = await lifeboat(args, { LIFEBOAT_TEMPORAL_TASK_QUEUE: taskQueue });
    expect({ exitCode: result.exitCode, stderr: result.stderr, stdout: result.stdout }).toEqual({
      exitCode: 2,
      stderr: `lifeboat: ${message}`,
      stdout: '',
    });
    expect(await startedOn(taskQueue)).toBe(0);
  });

  it('an unknown command or option exits 2 with usage', async () => {
    const result = await lifeboat(['frobnicate']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr.split('\n')[0]).toBe("error: unknown command 'frobnicate'");
    const option = await lifeboat(['lab', 'status', '--jsn']);
    expect(option.exitCode).toBe(2);
    expect(option.stderr.split('\n')[0]).toBe("error: unknown option '--jsn'");
  });

  it('a malformed config file stops the worker before it starts, naming file and key', async () => {
    const result = await lifeboat(['worker'], { LIFEBOAT_CONFIG: '/nonexistent/lifeboat.yaml' });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe(
      'lifeboat worker: invalid Lifeboat configuration:\n  - /nonexistent/lifeboat.yaml: configuration file not found (named by LIFEBOAT_CONFIG)',
    );
  });

  it('no worker polling: the CLI says so instead of waiting forever', async () => {
    const taskQueue = `test-cli-${randomUUID()}`;
    const result = await lifeboat(['cluster', 'health'], { LIFEBOAT_TEMPORAL_TASK_QUEUE: taskQueue });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(
      `lifeboat: no worker is polling task queue '${taskQueue}' at 127.0.0.1:7233; start one with \`lifeboat worker\` (or \`lifeboat lab up --with-worker\`)`,
    );
    expect(await startedOn(taskQueue)).toBe(0);
  });
});
