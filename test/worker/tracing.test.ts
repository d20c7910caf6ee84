// Integration (lab: Temporal, the primary cluster, etcd, Velero and MinIO, which `cluster health` checks):
// one CLI command is one trace, from the CLI's span through the client's start to the workflow's and the
// activities' spans in a worker process, all exported over OTLP/HTTP to a receiver on loopback.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ResultPromise } from 'execa';
import { labConfig, lifeboat } from '../helpers/lab.js';
import { polled, startWorkerProcess } from '../helpers/worker-process.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { temporalClient, type LifeboatClient } from '../../worker/temporal.js';
import { tracesDestination } from '../../worker/tracing-destination.js';
import { ConfigError, loadConfig } from '../../worker/config.js';
import { labConfigFile } from '../../lab/topology.js';

const runbooksDir = fileURLToPath(new URL('../../../runbooks/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'lifeboat-tracing-'));
// The lab's configuration with a tracing block added at its end.
const load = (endpoint: string) => {
  const file = join(dir, 'lifeboat.yaml');
  const lab = readFileSync(labConfigFile, 'utf8').replace(/\n*$/, '\n');
  writeFileSync(file, `${lab}tracing:\n  otlpEndpoint: ${endpoint}\n`);
  const line = lab.split('\n').length + 1;
  return { file, line, load: () => loadConfig({ file, env: {} }) };
};

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('where spans go', () => {
  it('the configuration first, then the standard variables, else nowhere; OTEL_SDK_DISABLED turns it off', () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318' };
    expect(tracesDestination({ otlpEndpoint: 'http://collector:4318/' }, env)).toEqual({ url: 'http://collector:4318/v1/traces' });
    expect(tracesDestination({}, env)).toEqual({});
    expect(tracesDestination({}, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://env:4318/v1/traces' })).toEqual({});
    expect(tracesDestination({}, {})).toBeUndefined();
    expect(tracesDestination({ otlpEndpoint: 'http://collector:4318' }, { OTEL_SDK_DISABLED: 'true' })).toBeUndefined();
  });
});

describe('tracing.otlpEndpoint', () => {
  it('an http(s) URL', () => {
    expect(load('https://collector.example:4318').load().tracing).toEqual({ otlpEndpoint: 'https://collector.example:4318' });
  });

  it('anything else is refused at its line, saying what is expected', () => {
    const { file, line, load: bad } = load('collector:4318');
    expect(bad).toThrow(ConfigError);
    expect(() => bad()).toThrow(`${file}:${line}:17: tracing.otlpEndpoint: expected an http(s) URL such as http://collector:4318`);
  });
});

describe('tracing a command through the worker', () => {
  const taskQueue = `test-tracing-${randomUUID()}`;
  let receiver: OtlpReceiver;
  let worker: ResultPromise;
  let client: LifeboatClient;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    worker = startWorkerProcess(taskQueue, runbooksDir, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
    client = await temporalClient(labConfig());
    await polled(client, labConfig().temporal.namespace, taskQueue);
  });

  afterAll(async () => {
    worker.kill('SIGTERM');
    await worker;
    await client.connection.close();
    await receiver.close();
  });

  /** The spans of `traceId` once `done` says they are all there; 30 s at most. */
  async function trace(traceId: string, done: (spans: ReceivedSpan[]) => boolean): Promise<ReceivedSpan[]> {
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      const spans = receiver.spans.filter((s) => s.traceId === traceId);
      if (done(spans)) return spans;
    }
    return receiver.spans.filter((s) => s.traceId === traceId);
  }

  it("`--verbose` prints the command's trace id; the CLI's, the workflow's and the activities' spans share it, each under its caller", async () => {
    const result = await lifeboat(['--verbose', 'cluster', 'health', '--cluster', 'primary', '--json'], {
      LIFEBOAT_TEMPORAL_TASK_QUEUE: taskQueue,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    });
    expect(result.exitCode).toBe(0);
    const traceId = /^lifeboat: trace id ([0-9a-f]{32})$/m.exec(result.stderr)?.[1];
    expect(traceId).toBeDefined();
    const { workflowId } = JSON.parse(result.stdout) as { workflowId: string };

    const spans = await trace(
      traceId!,
      (s) => s.some((x) => x.name.startsWith('RunActivity:')) && s.some((x) => x.name === 'RunWorkflow:clusterHealth'),
    );
    const named = (name: string) => spans.filter((s) => s.name === name);
    const [command] = named('lifeboat cluster health');
    const [start] = named('StartWorkflow:clusterHealth');
    const [run] = named('RunWorkflow:clusterHealth');
    expect(command).toMatchObject({
      service: 'lifeboat-cli',
      attributes: { 'lifeboat.command': 'cluster health', 'process.exit.code': 0 },
    });
    expect(command!.parentSpanId).toBeUndefined();
    expect(start).toMatchObject({ service: 'lifeboat-cli', parentSpanId: command!.spanId, attributes: { temporalWorkflowId: workflowId } });
    expect(run).toMatchObject({ service: 'lifeboat-worker', parentSpanId: start!.spanId });
    // A workflow span says which run it is, and nothing of the run's (encrypted) data.
    expect(Object.keys(run!.attributes).sort()).toEqual([
      'attempt',
      'historyLength',
      'namespace',
      'runId',
      'taskQueue',
      'workflowId',
      'workflowType',
    ]);
    expect(run!.attributes).toMatchObject({ workflowId, workflowType: 'clusterHealth', taskQueue });

    // Each activity runs under the workflow's span that scheduled it.
    const activities = spans.filter((s) => s.name.startsWith('RunActivity:'));
    expect(activities.length).toBeGreaterThan(0);
    for (const activity of activities) {
      const scheduled = spans.find((s) => s.spanId === activity.parentSpanId);
      expect({ service: activity.service, scheduledBy: scheduled?.name, scheduledIn: scheduled?.service }).toEqual({
        service: 'lifeboat-worker',
        scheduledBy: `StartActivity:${activity.name.slice('RunActivity:'.length)}`,
        scheduledIn: 'lifeboat-worker',
      });
    }
    expect(receiver.refused).toEqual([]);
  });

  it('tracing.otlpEndpoint in the configuration is enough for the CLI', async () => {
    const { file } = load(receiver.url);
    const result = await lifeboat(['--verbose', 'history', '--limit', '1'], { LIFEBOAT_CONFIG: file });
    expect(result.exitCode).toBe(0);
    const traceId = /^lifeboat: trace id ([0-9a-f]{32})$/m.exec(result.stderr)?.[1];
    expect(await trace(traceId!, (s) => s.length > 0)).toEqual([
      expect.objectContaining({
        service: 'lifeboat-cli',
        name: 'lifeboat history',
        attributes: { 'lifeboat.command': 'history', 'process.exit.code': 0 },
      }),
    ]);
  });

  it('without an endpoint the CLI makes no trace and sends nothing, and `--verbose` says tracing is off', async () => {
    const before = receiver.spans.filter((s) => s.service === 'lifeboat-cli').length;
    const result = await lifeboat(['--verbose', 'cluster', 'health', '--cluster', 'primary', '--json'], {
      LIFEBOAT_TEMPORAL_TASK_QUEUE: taskQueue,
    });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe('lifeboat: no trace (tracing is off: set tracing.otlpEndpoint or OTEL_EXPORTER_OTLP_ENDPOINT)');
    // The worker still traces the run it was given, as a trace of its own (no caller's context came with it).
    const { workflowId } = JSON.parse(result.stdout) as { workflowId: string };
    const deadline = Date.now() + 30_000;
    let run: ReceivedSpan | undefined;
    while (!run && Date.now() < deadline) {
      run = receiver.spans.find((s) => s.name === 'RunWorkflow:clusterHealth' && s.attributes.workflowId === workflowId);
      if (!run) await new Promise((r) => setTimeout(r, 250));
    }
    expect(run).toMatchObject({ service: 'lifeboat-worker' });
    expect(run!.parentSpanId).toBeUndefined();
    expect(receiver.spans.filter((s) => s.service === 'lifeboat-cli').length).toBe(before);
  });
});
