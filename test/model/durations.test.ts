// Pure: the one duration formatter the CLI and the reports share.
import { describe, expect, it } from '@jest/globals';
import { formatAge, formatDuration, formatStepTime, secondsBetween } from '../../model/durations.js';

describe('durations', () => {
  it.each([
    [0.85, '850 ms'],
    [4.2, '4.2 s'],
    [42, '42 s'],
    [185, '3 min 05 s'],
    [600, '10 min'],
    [3720, '1 h 02 min'],
    [21600, '6 h'],
    [86400, '1 d'],
    [273600, '3 d 04 h'],
    [-42, '-42 s'],
    [Number.NaN, 'unknown'],
  ])('formatDuration(%p) is %p', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it('counts seconds between timestamps to a tenth, never negative', () => {
    expect(secondsBetween('2026-12-02T10:00:00.000Z', '2026-12-02T10:01:02.349Z')).toBe(62.3);
    expect(secondsBetween('2026-12-02T10:00:05.000Z', '2026-12-02T10:00:00.000Z')).toBe(0);
  });

  it('shows a step time only once the step has finished', () => {
    expect(formatStepTime('2026-12-02T10:00:00.000Z', '2026-12-02T10:00:04.200Z')).toBe('4.2 s');
    expect(formatStepTime('2026-12-02T10:00:00.000Z', undefined)).toBe('');
  });

  it('shows an age coarsely', () => {
    expect([formatAge(42_000), formatAge(12 * 60_000), formatAge(5 * 3_600_000), formatAge(3 * 86_400_000)]).toEqual([
      '42 s',
      '12 min',
      '5 h',
      '3 d',
    ]);
  });
});
