// Integration (lab: Temporal): bad CLI input gets a clear error and starts nothing.
import { describe, expect, it } from '@jest/globals';
import { Client, Connection } from '@temporalio/client';
import { lifeboat } from '../helpers/lab.js';

describe('lifeboat CLI bad input', () => {
  it('an unknown cluster is refused before any workflow starts', async () => {
    const connection = await Connection.connect({ address: '127.0.0.1:7233' });
    const client = new Client({ connection });
    const before = (await client.workflow.count(`WorkflowType = 'clusterHealth'`)).count;
    const result = await lifeboat(['cluster', 'health', '--cluster', 'nowhere']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe("lifeboat: invalid Lifeboat configuration:\n  - unknown cluster 'nowhere'; configured clusters: primary, standby");
    expect((await client.workflow.count(`WorkflowType = 'clusterHealth'`)).count).toBe(before);
    await connection.close();
  });

  it('an unknown command or option exits 2 with usage', async () => {
    const result = await lifeboat(['frobnicate']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/unknown command 'frobnicate'/);
    const option = await lifeboat(['lab', 'status', '--jsn']);
    expect(option.exitCode).toBe(2);
    expect(option.stderr).toMatch(/unknown option '--jsn'/);
  });

  it('a malformed config file stops the worker before it starts, naming file and key', async () => {
    const result = await lifeboat(['worker'], { LIFEBOAT_CONFIG: '/nonexistent/lifeboat.yaml' });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe('lifeboat worker: invalid Lifeboat configuration:\n  - /nonexistent/lifeboat.yaml: configuration file not found (named by LIFEBOAT_CONFIG)');
  });

  it('no worker polling: the CLI says so instead of waiting forever', async () => {
    const result = await lifeboat(['cluster', 'health'], { LIFEBOAT_TEMPORAL_TASK_QUEUE: 'nobody-polls-this' });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/^lifeboat: no worker is polling task queue 'nobody-polls-this' at 127\.0\.0\.1:7233/);
  });
});
