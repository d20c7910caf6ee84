// Integration (lab: Temporal, both clusters' kubeconfigs): the worker process logs JSON, polls, and
// shuts down gracefully on SIGTERM.
import { describe, expect, it } from '@jest/globals';
import { execa } from 'execa';
import { labConfigFile } from '../../lab/topology.js';
import { cliPath } from '../helpers/lab.js';

describe('lifeboat worker process', () => {
  it('logs JSON, serves metrics and health checks, and exits 0 on SIGTERM', async () => {
    const worker = execa(process.execPath, [cliPath, 'worker'], {
      env: { LIFEBOAT_CONFIG: labConfigFile, LIFEBOAT_TEMPORAL_TASK_QUEUE: `test-shutdown-${Date.now()}`, LIFEBOAT_METRICS_PORT: '19464' },
      reject: false,
      lines: true,
    });
    const lines: Record<string, unknown>[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('worker did not start polling within 60 s')), 60_000);
      worker.stdout.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          lines.push(JSON.parse(line) as Record<string, unknown>);
          if (lines.some((l) => l.msg === 'worker polling') && lines.some((l) => l.msg === 'metrics listening')) {
            clearTimeout(timer);
            resolve();
          }
        }
      });
    });
    const metrics = await fetch('http://127.0.0.1:19464/metrics').then((r) => r.text());
    expect(metrics).toMatch(/^lifeboat_worker_clusters 2$/m);
    const healthz = await fetch('http://127.0.0.1:19464/healthz');
    expect([healthz.status, await healthz.text()]).toEqual([200, 'ok\n']);
    // Ready once the worker runs (it logs 'worker polling' just before) and Temporal answers.
    let readyz = await fetch('http://127.0.0.1:19464/readyz');
    for (let i = 0; i < 50 && readyz.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      readyz = await fetch('http://127.0.0.1:19464/readyz');
    }
    expect([readyz.status, await readyz.text()]).toEqual([200, 'ok\n']);
    worker.kill('SIGTERM');
    const result = await worker;
    expect(result.exitCode).toBe(0);
    const polling = lines.find((l) => l.msg === 'worker polling')!;
    expect(polling).toMatchObject({ level: 30, service: 'lifeboat-worker', clusters: ['primary', 'standby'] });
    expect(result.stdout.join('\n')).toMatch(/"msg":"worker stopped"/);
  });
});
