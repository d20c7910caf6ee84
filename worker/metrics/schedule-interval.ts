// How often a cron schedule fires, as an alert reads it: "no snapshot within twice its schedule".
import { Cron } from 'croner';

/** Consecutive firings compared: enough to see a whole week of a weekday schedule, a year of a monthly one. */
const firings = 60;

/**
 * The longest gap, in seconds, between consecutive firings of `expression` (UTC, read as the
 * configuration's schema reads it): for `0 *\/6 * * *` 21600, for `0 2 * * 1-5` the weekend's 72 h.
 * The longest gap, not the average: an alert on "twice the schedule" must not fire over a weekend.
 */
export function cronIntervalSeconds(expression: string, from = new Date()): number {
  const cron = new Cron(expression.trim(), { mode: '5-part', domAndDow: true, sloppyRanges: true, timezone: 'UTC' });
  const runs = cron.nextRuns(firings, from);
  let longest = 0;
  for (let i = 1; i < runs.length; i++) longest = Math.max(longest, runs[i]!.getTime() - runs[i - 1]!.getTime());
  return longest / 1000;
}
