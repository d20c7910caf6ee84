// `npm run bench:runbook`: what the runbook interpreter costs per step. The same three-activity sequence
// (three `httpCheck`s of a local HTTP server this script starts on 127.0.0.1) run by the interpreter
// (workflow type `runbook`, a document of three `action: httpCheck` steps) and by a hand-written
// workflow (scripts/bench/runbook-baseline.ts, the same activity options), alternated ABAB… on the lab's
// Temporal (127.0.0.1:7233) with a worker in this process on a task queue of its own, after an
// unmeasured warm-up of each. Prints each run's wall time; the interpreter's per-step overhead
// ((interpreter − baseline) / 3 of each pair) p50 and p99, in wall time and in workflow-task time (the
// workflow code's own work, from the history); each sequential activity's latency from the
// workflow history (ActivityTaskScheduled → ActivityTaskCompleted, server clock) p50 and p99 for both;
// the issue's targets beside them; and last one JSON line with every figure.
//
// BENCH_RUNS (default 30 of each), BENCH_WARMUP (default 3 of each). Figures, not assertions: the
// machine is shared and noisy.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createHttpCheckActivities, type HttpCheckInput } from '../../activities/traffic/http-check.js';
import { labConfigFile } from '../../lab/topology.js';
import { formatProblems, parseRunbook } from '../../model/runbook/parse.js';
import { runbookBlocks } from '../../model/runbook/registry.js';
import type { RunbookInput } from '../../model/runbook/run.js';
import { loadConfig } from '../../worker/config.js';
import { dataConverterFor, failureConverterPath, temporalClient, temporalConnectionOptions } from '../../worker/temporal.js';
import type { runbook } from '../../workflows/runbook.js';
import { say } from './bench-app.js';
import { historyTimings } from './history.js';
import type { runbookBaseline } from './runbook-baseline.js';
import { envCount } from './env.js';

const runs = envCount('BENCH_RUNS', 30);
const warmup = envCount('BENCH_WARMUP', 3, 0);
const steps = 3;
const target = { overheadMsPerStep: 10, activityP50Ms: 30, anchorMsPerActivity: '50-60' } as const;

/** Nearest-rank percentile. */
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(p * s.length) - 1)]!;
};
const round1 = (x: number) => Math.round(x * 10) / 10;
const stats = (xs: number[]) => ({ p50: round1(percentile(xs, 0.5)), p99: round1(percentile(xs, 0.99)), n: xs.length });

const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/healthz`;
const checks: HttpCheckInput[] = Array.from({ length: steps }, (_, i) => ({ url: `${url}?step=${i + 1}` }));

const text = `apiVersion: lifeboat.io/v1
kind: Runbook
metadata:
  name: bench-three-checks
steps:
${checks.map((c, i) => `  - id: check-${i + 1}\n    action: httpCheck\n    with: { url: "${c.url}" }\n`).join('')}`;
const parsed = parseRunbook('bench-three-checks.yaml', text, { blocks: runbookBlocks });
if (!parsed.ok) throw new Error(formatProblems(parsed.problems).join('\n'));
const input: RunbookInput = {
  document: parsed.document,
  contentHash: 'bench',
  source: 'bench',
  parameters: {},
  startedBy: 'bench',
  approverGroups: {},
};

// The worker's state changes at INFO would drown the figures.
Runtime.install({ logger: new DefaultLogger('WARN') });
const config = loadConfig({ file: labConfigFile, env: {} });
const taskQueue = `bench-runbook-${randomUUID()}`;
say(`bundling the workflows with the baseline; Temporal at ${config.temporal.address}, task queue ${taskQueue}`);
const { code } = await bundleWorkflowCode({
  workflowsPath: fileURLToPath(new URL('./runbook-workflows.js', import.meta.url)),
  failureConverterPath,
  logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
});
const nativeConnection = await NativeConnection.connect(temporalConnectionOptions(config));
const worker = await Worker.create({
  connection: nativeConnection,
  namespace: config.temporal.namespace,
  taskQueue,
  workflowBundle: { code },
  dataConverter: dataConverterFor(config),
  activities: createHttpCheckActivities(),
});
const client = await temporalClient(config);

type Variant = 'interpreter' | 'baseline';
/** `taskMs`: the run's workflow tasks, started → completed: the workflow code's own time (the interpreter's work), less noisy than wall time. */
interface Run {
  variant: Variant;
  wallMs: number;
  activityMs: number[];
  taskMs: number;
}

async function once(variant: Variant, n: number): Promise<Run> {
  const workflowId = `bench-runbook/${variant}/${n}-${randomUUID().slice(0, 8)}`;
  const started = performance.now();
  let handle: WorkflowHandle;
  if (variant === 'interpreter') {
    handle = await client.workflow.start<typeof runbook>('runbook', { taskQueue, workflowId, args: [input] });
    const report = await (handle as WorkflowHandle<typeof runbook>).result();
    if (report.status !== 'succeeded') throw new Error(`interpreter run ${workflowId} ended ${report.status}`);
  } else {
    handle = await client.workflow.start<typeof runbookBaseline>('runbookBaseline', { taskQueue, workflowId, args: [{ checks }] });
    const result = await (handle as WorkflowHandle<typeof runbookBaseline>).result();
    if (result.statuses.length !== steps) throw new Error(`baseline run ${workflowId} made ${result.statuses.length} checks`);
  }
  const wallMs = performance.now() - started;
  const timings = await historyTimings(handle);
  const done = timings.activities.filter((a) => a.status === 'completed');
  if (done.length !== steps) throw new Error(`${workflowId}: ${done.length} completed activities, expected ${steps}`);
  const taskMs = timings.workflowTasks.reduce((sum, t) => sum + t.completedMs - t.startedMs, 0);
  return { variant, wallMs, activityMs: done.map((a) => a.closedMs - a.scheduledMs), taskMs };
}

const measured: Run[] = [];
await worker.runUntil(async () => {
  for (let i = 0; i < warmup; i++) {
    await once('interpreter', -i - 1);
    await once('baseline', -i - 1);
  }
  say(`warm-up done (${warmup} of each); ${runs} runs of each, alternated`);
  for (let i = 0; i < runs; i++) {
    for (const variant of ['interpreter', 'baseline'] as const) {
      const r = await once(variant, i);
      measured.push(r);
      console.log(
        `run ${String(i + 1).padStart(2)} ${variant.padEnd(11)} ${r.wallMs.toFixed(1).padStart(7)} ms wall; workflow tasks ${r.taskMs.toFixed(1)} ms; activities ${r.activityMs.map((x) => x.toFixed(1)).join(', ')} ms`,
      );
    }
  }
});
await client.connection.close();
server.close();

const of = (variant: Variant) => measured.filter((r) => r.variant === variant);
const interpreter = of('interpreter');
const baseline = of('baseline');
const overheads = interpreter.map((r, i) => (r.wallMs - baseline[i]!.wallMs) / steps);
const figures = {
  runs,
  warmup,
  steps,
  wallMs: { interpreter: stats(interpreter.map((r) => r.wallMs)), baseline: stats(baseline.map((r) => r.wallMs)) },
  overheadMsPerStep: {
    ...stats(overheads),
    ofMedians: round1(
      (percentile(
        interpreter.map((r) => r.wallMs),
        0.5,
      ) -
        percentile(
          baseline.map((r) => r.wallMs),
          0.5,
        )) /
        steps,
    ),
    target: target.overheadMsPerStep,
  },
  workflowTaskMsPerRun: { interpreter: stats(interpreter.map((r) => r.taskMs)), baseline: stats(baseline.map((r) => r.taskMs)) },
  workflowTaskOverheadMsPerStep: stats(interpreter.map((r, i) => (r.taskMs - baseline[i]!.taskMs) / steps)),
  activityMs: {
    interpreter: stats(interpreter.flatMap((r) => r.activityMs)),
    baseline: stats(baseline.flatMap((r) => r.activityMs)),
    targetP50: target.activityP50Ms,
    anchor: target.anchorMsPerActivity,
  },
};
const verdict = (ok: boolean) => (ok ? 'meets target' : 'MISSES target');
console.log('');
console.log(
  `wall time per run        interpreter p50 ${figures.wallMs.interpreter.p50} ms, p99 ${figures.wallMs.interpreter.p99} ms; baseline p50 ${figures.wallMs.baseline.p50} ms, p99 ${figures.wallMs.baseline.p99} ms`,
);
console.log(
  `interpreter overhead     per step p50 ${figures.overheadMsPerStep.p50} ms, p99 ${figures.overheadMsPerStep.p99} ms of the pairs; ${figures.overheadMsPerStep.ofMedians} ms of the medians   (target ≤ ${target.overheadMsPerStep} ms: ${verdict(figures.overheadMsPerStep.p50 <= target.overheadMsPerStep)})`,
);
console.log(
  `workflow task time        per run interpreter p50 ${figures.workflowTaskMsPerRun.interpreter.p50} ms, baseline p50 ${figures.workflowTaskMsPerRun.baseline.p50} ms; per step overhead p50 ${figures.workflowTaskOverheadMsPerStep.p50} ms, p99 ${figures.workflowTaskOverheadMsPerStep.p99} ms`,
);
for (const variant of ['interpreter', 'baseline'] as const) {
  const a = figures.activityMs[variant];
  console.log(
    `activity latency ${variant.padEnd(11)} scheduled→completed p50 ${a.p50} ms, p99 ${a.p99} ms   (target p50 ≤ ${target.activityP50Ms} ms, anchor ${target.anchorMsPerActivity} ms: ${verdict(a.p50 <= target.activityP50Ms)})`,
  );
}
console.log(JSON.stringify(figures));
