// An app's data check (apps[].dataCheck), run once its workload is back after a restore: an HTTP GET, or
// a command the worker runs with KUBECONFIG for the run's cluster. Steps name it by app (or give a URL);
// the configuration (a command's `env` above all) stays in the worker and never enters history: the
// report carries which check ran and the bounded, masked output.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { ActivityDeps } from '../deps.js';
import type { ClusterConfig, DataCheckConfig } from '../../worker/config.js';
import { failureTypes } from '../../model/failures.js';
import { clusterClients } from '../kubernetes/cluster.js';
import { runInProcessGroup, startErrors } from './command.js';
import { httpDataCheck } from './http.js';
import { describeDataCheck, resolveDataCheckOf, type DataCheckRequest, type ResolvedDataCheck } from './resolve.js';

export type { DataCheckRequest } from './resolve.js';

/** Which check a run takes, as the plan and the approval show it. */
export interface DataCheckPlan {
  kind: 'none' | 'http' | 'command';
  /** `parameter`: the run's own URL; `app`: the app's configured check; `none`: no check. */
  source: 'parameter' | 'app' | 'none';
  /** The app whose check it is (the named one, or the one found by namespace); empty when none. */
  app: string;
  /** The check in one line (whose, a command's argv, a URL with its password masked), or `none (why)`. */
  check: string;
  /** What the run's report shows of the step: the check, or (run) whether it passed. */
  detail: string;
}

export interface DataCheckResult extends DataCheckPlan {
  passed: boolean;
  /** What the check wrote (a command's stdout and stderr, the last 4 KiB; a body's first 4 KiB), `env` values masked. */
  output: string;
  outputBytes: number;
  milliseconds: number;
  exitCode?: number;
  status?: number;
}

/** Variables of the worker a check's command gets; nothing else of its environment (credentials above all). */
const passedThrough = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];
/** Values shorter than this are not masked in output: masking every "1" would garble it and hide nothing. */
const minMaskedLength = 4;
/** The longest output excerpt a failure's message carries (the details carry the whole tail). */
const messageExcerpt = 600;

const planOf = (resolved: ResolvedDataCheck): DataCheckPlan => {
  const check = describeDataCheck(resolved);
  return { kind: resolved.kind, source: resolved.source, app: resolved.app, check, detail: check };
};

/**
 * The KUBECONFIG of `cluster` for a command: its kubeconfig file; with a configured context, a file of
 * this run naming that context as current put first (kubectl and client-go take the first file's
 * current-context); nothing for the cluster the worker runs in, where kubectl finds the ServiceAccount.
 */
async function kubeEnv(cluster: ClusterConfig, dir: () => Promise<string>): Promise<Record<string, string>> {
  if (cluster.kubeconfig === undefined) {
    const env: Record<string, string> = {};
    for (const name of ['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT']) if (process.env[name]) env[name] = process.env[name];
    return env;
  }
  if (cluster.context === undefined) return { KUBECONFIG: cluster.kubeconfig };
  const overlay = join(await dir(), 'context.kubeconfig');
  await writeFile(overlay, `apiVersion: v1\nkind: Config\ncurrent-context: ${JSON.stringify(cluster.context)}\n`, { mode: 0o600 });
  return { KUBECONFIG: `${overlay}:${cluster.kubeconfig}` };
}

function envValues(check: Extract<DataCheckConfig, { kind: 'command' }>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(check.env)) {
    if (typeof value === 'string') env[name] = value;
    else {
      const from = process.env[value.fromEnv];
      if (from === undefined)
        throw ApplicationFailure.nonRetryable(
          `data check: its env ${name} is the worker's ${value.fromEnv}, which is not set in the worker's environment`,
          failureTypes.DataCheckNotRunnable,
        );
      env[name] = from;
    }
  }
  return env;
}

const mask = (text: string, secrets: string[]) =>
  secrets.filter((v) => v.length >= minMaskedLength).reduce((out, secret) => out.split(secret).join('***'), text);
const excerpt = (output: string) => (output.length > messageExcerpt ? `…${output.slice(-messageExcerpt)}` : output).trim();

export function createDataCheckActivities(deps: Pick<ActivityDeps, 'apps' | 'clusters'>) {
  const resolve = (request: DataCheckRequest) => {
    clusterClients(deps, request.cluster);
    return resolveDataCheckOf(deps.apps, request);
  };

  async function runCommand(
    resolved: ResolvedDataCheck & { check: Extract<DataCheckConfig, { kind: 'command' }> },
    request: DataCheckRequest,
  ): Promise<DataCheckResult> {
    const ctx = Context.current();
    const plan = planOf(resolved);
    const own = envValues(resolved.check);
    let dir: string | undefined;
    const scratch = async () => (dir ??= await mkdtemp(join(tmpdir(), 'lifeboat-data-check-')));
    try {
      const env: Record<string, string> = {};
      for (const name of passedThrough) if (process.env[name] !== undefined) env[name] = process.env[name];
      Object.assign(env, await kubeEnv(clusterClients(deps, request.cluster).config, scratch), {
        LIFEBOAT_APP: resolved.app,
        LIFEBOAT_CLUSTER: request.cluster,
        LIFEBOAT_NAMESPACE: request.namespace,
        ...own,
      });
      const outcome = await runInProcessGroup(resolved.check.command, {
        env,
        timeoutMs: resolved.check.timeout * 1000,
        signal: ctx.cancellationSignal,
        onProgress: (progress) => ctx.heartbeat(progress),
      });
      if (outcome.cancelled) throw new CancelledFailure(`data check ${plan.check} cancelled; its process group was killed`);
      const output = mask(outcome.output, Object.values(own));
      const result: DataCheckResult = {
        ...plan,
        passed: outcome.exitCode === 0,
        output,
        outputBytes: outcome.outputBytes,
        milliseconds: outcome.milliseconds,
        ...(outcome.exitCode !== undefined ? { exitCode: outcome.exitCode } : {}),
      };
      if (outcome.startError) {
        const message = `data check ${plan.check} ${outcome.startError.message}`;
        // A missing program stays missing; a system out of processes or memory may not be.
        if (outcome.startError.code !== undefined && outcome.startError.code in startErrors)
          throw ApplicationFailure.nonRetryable(message, failureTypes.DataCheckNotRunnable);
        throw new Error(message);
      }
      const fail = (what: string, type: string) =>
        ApplicationFailure.create({
          message: `data check ${plan.check} ${what}${output.trim() ? `; its output: ${excerpt(output)}` : ' (no output)'}`,
          type,
          nonRetryable: true,
          details: [result],
        });
      if (outcome.timedOut)
        throw fail(`did not finish within ${resolved.check.timeout} s; its process group was killed`, failureTypes.DataCheckTimedOut);
      if (outcome.exitCode !== 0)
        throw fail(
          outcome.exitCode === undefined ? `was killed by ${outcome.signal}` : `exited ${outcome.exitCode}`,
          failureTypes.DataCheckFailed,
        );
      return { ...result, detail: `passed: ${plan.check}, exit 0 in ${(outcome.milliseconds / 1000).toFixed(1)} s` };
    } finally {
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  }

  return {
    /** Which data check a run takes (read-only: the plan and the approval show it), or `none` and why; refuses what cannot be told. */
    resolveDataCheck(request: DataCheckRequest): Promise<DataCheckPlan> {
      // A refusal rejects the promise, as it would from an async function.
      return Promise.resolve().then(() => planOf(resolve(request)));
    },

    /** Runs the resolved data check; a check that says no fails non-retryably, one that cannot be reached yet retryably. */
    async runDataCheck(request: DataCheckRequest): Promise<DataCheckResult> {
      const resolved = resolve(request);
      // Nothing ran, so nothing is proven: not passed (a runbook skips the step instead, `when` its plan says none).
      if (resolved.kind === 'none') return { ...planOf(resolved), passed: false, output: '', outputBytes: 0, milliseconds: 0 };
      if (resolved.check.kind === 'command') return runCommand({ ...resolved, check: resolved.check }, request);
      const ctx = Context.current();
      const plan = planOf(resolved);
      const beat = setInterval(() => ctx.heartbeat(), 5000);
      try {
        const outcome = await httpDataCheck(resolved.check, plan.check, ctx.cancellationSignal);
        return {
          ...plan,
          passed: true,
          output: outcome.output,
          outputBytes: Buffer.byteLength(outcome.output),
          milliseconds: outcome.milliseconds,
          status: outcome.status,
          detail: `passed: ${plan.check}, 200 in ${(outcome.milliseconds / 1000).toFixed(1)} s`,
        };
      } finally {
        clearInterval(beat);
      }
    },
  };
}

export type DataCheckActivities = ReturnType<typeof createDataCheckActivities>;
