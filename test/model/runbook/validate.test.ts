import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { defineBlocks, DuplicateBlockError } from '../../../model/runbook/blocks.js';
import { parseDuration } from '../../../model/durations.js';
import type { RunbookDocument } from '../../../model/runbook/schema.js';
import { resolveParameters } from '../../../model/runbook/validate.js';

const parameters: RunbookDocument['parameters'] = {
  cluster: { type: 'cluster', required: true },
  replicas: { type: 'number', required: false, default: 3 },
  dryRun: { type: 'boolean', required: false, default: false },
  window: { type: 'duration', required: false, enum: ['15m', '1h'] },
};

describe('resolveParameters', () => {
  it('takes given values, converting --param text to the declared type, then defaults', () => {
    expect(resolveParameters(parameters, { cluster: 'prod-east', replicas: '5', dryRun: 'true' })).toEqual({
      ok: true,
      values: { cluster: 'prod-east', replicas: 5, dryRun: true },
    });
    expect(resolveParameters(parameters, { cluster: 'prod-west', window: '1h' })).toEqual({
      ok: true,
      values: { cluster: 'prod-west', replicas: 3, dryRun: false, window: '1h' },
    });
  });

  it('names unknown, missing and ill-typed parameters', () => {
    expect(resolveParameters(parameters, { replicas: 'many', dryRun: 'yes', window: '2h', region: 'eu' })).toEqual({
      ok: false,
      problems: [
        'unknown parameter "region"',
        'parameter "cluster" is required',
        'parameter "replicas": expected a number',
        'parameter "dryRun": expected true or false',
        'parameter "window": expected one of "15m", "1h"',
      ],
    });
  });
});

describe('defineBlocks', () => {
  it('refuses a block defined twice', () => {
    const block = { name: 'notify', kind: 'activity', description: 'Posts.', input: z.object({}) } as const;
    expect(() => defineBlocks([block, block])).toThrow(new DuplicateBlockError('notify'));
  });
});

describe('parseDuration', () => {
  it('reads one whole number and one unit', () => {
    expect([parseDuration('250ms'), parseDuration('90s'), parseDuration('15m'), parseDuration('4h'), parseDuration('30d')]).toEqual([
      250, 90_000, 900_000, 14_400_000, 2_592_000_000,
    ]);
    expect([parseDuration('1h30m'), parseDuration('0s'), parseDuration('5 minutes')]).toEqual([undefined, undefined, undefined]);
  });
});
