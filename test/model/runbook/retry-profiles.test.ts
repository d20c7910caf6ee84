import { describe, expect, it } from '@jest/globals';
import { compileRetryPolicy } from '@temporalio/common';
import { defaultRetryProfile, isRetryProfileName, retryPolicyFor, retryProfileNames } from '../../../model/runbook/retry-profiles.js';

describe('retry profiles', () => {
  it('are named and have the documented shape', () => {
    expect(retryProfileNames).toEqual(['none', 'quick', 'standard', 'patient']);
    expect(defaultRetryProfile).toBe('standard');
    expect(retryPolicyFor('none')).toEqual({ maximumAttempts: 1, nonRetryableErrorTypes: [] });
    expect(retryPolicyFor('quick')).toEqual({
      maximumAttempts: 3,
      initialInterval: '1s',
      backoffCoefficient: 2,
      maximumInterval: '10s',
      nonRetryableErrorTypes: [],
    });
    expect(retryPolicyFor('standard', ['ValidationFailure'])).toEqual({
      maximumAttempts: 5,
      initialInterval: '2s',
      backoffCoefficient: 2,
      maximumInterval: '1m',
      nonRetryableErrorTypes: ['ValidationFailure'],
    });
  });

  it('leave maximumAttempts out of patient, which Temporal reads as unlimited', () => {
    expect(retryPolicyFor('patient')).toEqual({
      initialInterval: '5s',
      backoffCoefficient: 2,
      maximumInterval: '5m',
      nonRetryableErrorTypes: [],
    });
    expect(compileRetryPolicy(retryPolicyFor('patient')).maximumAttempts).toBeUndefined();
  });

  it('are all policies Temporal accepts', () => {
    const compiled = retryProfileNames.map((name) => compileRetryPolicy(retryPolicyFor(name)));
    expect(
      compiled.map((policy) => [policy.maximumAttempts, String(policy.initialInterval?.seconds), String(policy.maximumInterval?.seconds)]),
    ).toEqual([
      [1, '1', 'undefined'],
      [3, '1', '10'],
      [5, '2', '60'],
      [undefined, '5', '300'],
    ]);
  });

  it('are told from other names', () => {
    expect(isRetryProfileName('patient')).toBe(true);
    expect(isRetryProfileName('toString')).toBe(false);
  });
});
