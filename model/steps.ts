// A runbook's steps as the `progress` query shows them, and timing one step: shared by the workflow's
// step list (workflows/steps.ts) and activities that run several steps themselves and report them back.
// Pure: no workflow APIs, so activities may use it too.

import { rootFailure } from './failure-chain.js';

export type StepState = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export interface Step {
  name: string;
  state: StepState;
  startedAt?: string;
  finishedAt?: string;
  detail?: string;
}

/** Runs `work` as `step`, recording when it started and finished and how it ended. */
export async function timeStep<T>(step: Step, work: () => Promise<T>, describe?: (result: T) => string): Promise<T> {
  step.state = 'running';
  step.startedAt = new Date().toISOString();
  try {
    const result = await work();
    step.state = 'done';
    if (describe) step.detail = describe(result);
    return result;
  } catch (err) {
    step.state = 'failed';
    // In workflow code an activity's error says "Activity task failed"; the root cause says why.
    step.detail = rootFailure(err).message;
    throw err;
  } finally {
    step.finishedAt = new Date().toISOString();
  }
}
