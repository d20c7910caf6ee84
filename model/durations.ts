// Time spans as Lifeboat counts and shows them: one definition for workflows (RTO, RPO, step times),
// activities, the CLI and the reports.

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
