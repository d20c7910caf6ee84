// Timing one step: shared by the workflow's step list (steps.ts) and activities that run several
// steps themselves and report them back. Pure: no workflow APIs, so activities may use it too.
import type { Step } from './steps.js';

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
    step.detail = (err as Error).message;
    throw err;
  } finally {
    step.finishedAt = new Date().toISOString();
  }
}
