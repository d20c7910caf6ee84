/**
 * Durations in runbook documents: a whole number and one unit, as SREs write them in
 * Argo or Kubernetes manifests (`90s`, `15m`, `4h`, `30d`). One unit only, so a value reads the
 * same in the YAML, in Temporal's UI and in a progress report.
 */
export const durationPattern = /^([1-9][0-9]*)(ms|s|m|h|d)$/;

/** What a duration must look like, for error messages. */
export const durationExpectation = 'a duration such as 90s, 15m, 4h or 30d';

const unitMilliseconds = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds of a duration text, or `undefined` when it is not one. */
export function parseDuration(text: string): number | undefined {
  const match = durationPattern.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * unitMilliseconds[match[2] as keyof typeof unitMilliseconds];
}
