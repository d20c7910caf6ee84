// Pure: a step's detail on failure is the root cause a person needs, not the SDK's wrapper text.
import { describe, expect, it } from '@jest/globals';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { timeStep, type Step } from '../../model/steps.js';

describe('timeStep', () => {
  it("records the activity's root cause, not 'Activity task failed'", async () => {
    const step: Step = { name: 'retention', state: 'pending' };
    const cause = ApplicationFailure.nonRetryable('the store refused 2 of 5 deletions: AccessDenied', 'RetentionDeleteFailed');
    const wrapped = new ActivityFailure(
      'Activity task failed',
      'applyEtcdRetention',
      '7',
      RetryState.NON_RETRYABLE_FAILURE,
      'worker@host',
      cause,
    );
    await expect(timeStep(step, () => Promise.reject(wrapped))).rejects.toBe(wrapped);
    expect(step).toMatchObject({ name: 'retention', state: 'failed', detail: 'the store refused 2 of 5 deletions: AccessDenied' });
    expect(Date.parse(step.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(step.startedAt!));
  });

  it('records what a step returned, described', async () => {
    const step: Step = { name: 'inventory', state: 'pending' };
    await expect(
      timeStep(
        step,
        () => Promise.resolve(42),
        (n) => `${n} keys`,
      ),
    ).resolves.toBe(42);
    expect(step).toMatchObject({ state: 'done', detail: '42 keys' });
  });
});
