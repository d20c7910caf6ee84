// Time spans as Lifeboat reads, counts and shows them: one definition for workflows (RTO, RPO, step
// times), activities, the configuration, runbook documents, the CLI and the reports.

/**
 * A duration as people write one, in the configuration, a runbook document or on the command line: a
 * whole number more than zero and one unit, as in Argo or Kubernetes manifests (`250ms`, `90s`, `15m`,
 * `4h`, `30d`). One unit only, so a value reads the same in the YAML, in Temporal's UI and in a progress
 * report; never zero, which Temporal reads as "no timeout at all".
 */
export const durationPattern = /^([1-9][0-9]*)(ms|s|m|h|d)$/;
/** The same in whole seconds (no `ms`): what the configuration and the CLI take, since they count seconds. */
export const secondsDurationPattern = /^([1-9][0-9]*)(s|m|h|d)$/;

/** What a duration must look like, for error messages. */
export const durationExpectation = 'a duration such as 90s, 15m, 4h or 30d';
export const secondsDurationExpectation = 'a duration in whole seconds or more, such as 90s, 15m, 4h or 30d';

const unitMilliseconds = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds of a duration text ({@link durationPattern}), or `undefined` when it is not one. */
export function parseDuration(text: string): number | undefined {
  const match = durationPattern.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * unitMilliseconds[match[2] as keyof typeof unitMilliseconds];
}

/** Seconds of a duration text in whole seconds ({@link secondsDurationPattern}), or `undefined` when it is not one. */
export const parseSecondsDuration = (text: string): number | undefined =>
  secondsDurationPattern.test(text) ? parseDuration(text)! / 1000 : undefined;

/** Seconds from `from` to `to` (ISO timestamps), to a tenth, never negative. */
export function secondsBetween(from: string, to: string): number {
  return Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 100) / 10);
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** `850 ms`, `4.2 s`, `42 s`, `3 min 05 s`, `10 min`, `1 h 02 min`, `6 h`, `3 d 04 h`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'unknown';
  if (seconds < 0) return `-${formatDuration(-seconds)}`;
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  const total = Math.round(seconds);
  if (total < 60) return `${total} s`;
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = total % 60;
  if (days > 0) return hours === 0 ? `${days} d` : `${days} d ${pad2(hours)} h`;
  if (hours > 0) return minutes === 0 ? `${hours} h` : `${hours} h ${pad2(minutes)} min`;
  return secs === 0 ? `${minutes} min` : `${minutes} min ${pad2(secs)} s`;
}

/** How long a step took, formatted; empty while it has not both started and finished. */
export const formatStepTime = (startedAt?: string, finishedAt?: string) =>
  startedAt && finishedAt ? formatDuration((Date.parse(finishedAt) - Date.parse(startedAt)) / 1000) : '';

/** `42 s`, `12 min`, `5 h`, `3 d`: how long ago, coarse, for a person reading a status line. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 90) return `${s} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}
