// Retention planner for one cluster's etcd snapshots: which to keep (with every reason) and which to
// delete (with one reason). Pure: no I/O and no clock (`now` is an argument), so workflow code may
// import it as well as activities. Deleting backups is the one irreversible thing retention does, so
// every doubt about the input ends in a refusal (delete nothing), never in a guess.
//
// Semantics of planRetention:
// 1. An incomplete listing (`complete: false`) is refused: everything is kept, nothing deleted,
//    `refused` = `listing incomplete: <problem>`. Retention never acts on a partial view. A policy that
//    validateRetentionPolicy rejects, an invalid `now`, a startedAt that is not an ISO-8601 date-time
//    with a zone designator (`Z` or `±HH:MM`; without one its day would depend on the machine's time
//    zone) and a duplicate id are refused the same way.
// 2. Snapshots are ordered newest first by startedAt, ties broken by id descending (code-unit order, not
//    locale order), so the plan does not depend on the listing's order. Snapshots in the future (clock
//    skew) are simply the newest. 'failed' snapshots are not good backups: no rule below selects them and
//    they are deleted with reason `failed verification`. The other snapshots are the candidates.
// 3. keepLast N keeps the N newest candidates; reason `last N`.
// 4. daily D / weekly W / monthly M (grandfather-father-son, like restic's forget): walking candidates
//    newest first, a candidate is kept if it is the newest candidate of its period (UTC calendar day;
//    ISO-8601 week, Monday start; UTC calendar month) and fewer than D (W, M) periods have been taken so
//    far. Reasons `daily 2026-11-21`, `weekly 2026-W47`, `monthly 2026-11`. A count of 0 disables the rule.
//    Rules 3 and 4 are independent: a snapshot may be selected by several, and has every reason.
// 5. maxAgeDays: a snapshot older than maxAgeDays (now - startedAt > maxAgeDays × 86 400 000 ms) is not
//    kept by rules 3-4 even if selected.
// 6. Protection, overriding 2 and 5: the newest 'verified' snapshot is always kept (reason
//    `newest verified`); with no verified snapshot, the newest 'uploaded' one is (reason
//    `newest uploaded (no verified snapshot)`). Retention never deletes the last good backup.
// 7. Everything else is deleted with exactly one reason, the first that applies of `failed verification`,
//    `older than <maxAgeDays> days` and `not selected by policy`.
// Keep reasons are listed in rule order: last, daily, weekly, monthly, then protection.
// 8. A snapshot rule 7 deletes but whose objects are under an S3 Object Lock until after `now`
//    (`lockedUntil`) goes to `locked` instead, with its reason and the date: the store would refuse the
//    delete. A later run deletes it once the date has passed.
// 9. A listing with tampered manifests (edited, swapped, rolled back: activities/object-store/manifest-mac.ts)
//    is refused like an incomplete one: someone has written the bucket, and the plan could be theirs.

export type SnapshotStatus = 'uploaded' | 'verified' | 'failed';

export interface SnapshotRecord {
  /** Unique within the cluster's listing; what a delete names. Required. */
  id: string;
  /** When the snapshot was taken: ISO-8601 date-time with `Z` or a `±HH:MM` offset. Required. */
  startedAt: string;
  /**
   * `uploaded`: stored, not (yet) verified; `verified`: restored and checked; `failed`: verification
   * failed, not a good backup. Required.
   */
  status: SnapshotStatus;
  /** Size of the stored object in bytes, for reports; retention ignores it. Default: unknown. */
  sizeBytes?: number;
  /** ISO-8601: an S3 Object Lock keeps the snapshot's objects until then (rule 8). Default: not locked. */
  lockedUntil?: string;
  /** The lock's mode (GOVERNANCE, COMPLIANCE, legal hold), for the report. Default: none given. */
  lockMode?: string;
}

export interface RetentionPolicy {
  /** Keep this many newest good snapshots. Required; non-negative integer; 0 disables. */
  keepLast: number;
  /** Keep the newest snapshot of each of this many most recent UTC days that have one. Required; 0 disables. */
  daily: number;
  /** Keep the newest snapshot of each of this many most recent ISO weeks that have one. Required; 0 disables. */
  weekly: number;
  /** Keep the newest snapshot of each of this many most recent UTC months that have one. Required; 0 disables. */
  monthly: number;
  /** Positive integer: snapshots older than this many days are kept only if protected. Default: no age limit. */
  maxAgeDays?: number;
}

export interface RetentionPlan {
  /** Snapshots to keep, newest first, each with every reason that keeps it. */
  keep: { id: string; reasons: string[] }[];
  /** Snapshots to delete, newest first, each with the one reason it goes. */
  delete: { id: string; reason: string }[];
  /** Snapshots that would be deleted but are locked until `until` (rule 8), newest first. Default: none. */
  locked?: { id: string; reason: string; until: string; mode?: string }[];
  /** Set when nothing may be deleted, e.g. the listing was incomplete; then delete is empty. */
  refused?: string;
}

export interface ListingResult {
  /** Every snapshot the listing found, in any order. */
  snapshots: SnapshotRecord[];
  /** False when the listing may have missed snapshots (a page failed, a timeout): retention then refuses. */
  complete: boolean;
  /** Why the listing is incomplete, for the refusal message. Default: none given. */
  problem?: string;
  /** Why each tampered manifest was refused (rule 9). Default: none. */
  tampered?: string[];
}

const dayMs = 86_400_000;
const countFields = ['keepLast', 'daily', 'weekly', 'monthly'] as const;

/** Human-readable problems with a policy, each naming its field; empty when the policy is usable. */
export function validateRetentionPolicy(policy: RetentionPolicy): string[] {
  const problems = countFields
    .filter((field) => !isNonNegativeInteger(policy[field]))
    .map((field) => `${field} must be a non-negative integer (0 disables the rule), got ${String(policy[field])}`);
  if (policy.maxAgeDays !== undefined && !(isNonNegativeInteger(policy.maxAgeDays) && policy.maxAgeDays > 0)) {
    problems.push(`maxAgeDays must be a positive integer number of days (omit it for no age limit), got ${String(policy.maxAgeDays)}`);
  }
  return problems;
}

const isNonNegativeInteger = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 0;

interface TimedSnapshot extends SnapshotRecord {
  /** startedAt in epoch ms; NaN when unparseable (only ever seen by refused plans). */
  time: number;
}

// A zone designator is required: Date.parse reads a date-time without one as local time.
const isoDateTimeWithZone = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * Epoch ms of an ISO-8601 date-time with a zone designator, NaN for anything else: a time without a
 * zone would mean another instant on a worker in another time zone.
 */
export function parseZonedDateTime(text: string): number {
  return isoDateTimeWithZone.test(text) ? Date.parse(text) : NaN;
}

function newestFirst(snapshots: SnapshotRecord[]): TimedSnapshot[] {
  const timed = snapshots.map((s) => ({ ...s, time: parseZonedDateTime(s.startedAt) }));
  const sortKey = (s: TimedSnapshot) => (Number.isNaN(s.time) ? -Infinity : s.time);
  return timed.sort((a, b) => sortKey(b) - sortKey(a) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

function refusalOf(listing: ListingResult, policy: RetentionPolicy, now: Date, snapshots: TimedSnapshot[]): string | undefined {
  if (!listing.complete) return `listing incomplete: ${listing.problem ?? 'no problem given'}`;
  if (listing.tampered?.length)
    return `${listing.tampered.length} tampered manifest(s), nothing is deleted until someone has looked at the bucket: ${listing.tampered.join('; ')}`;
  const policyProblems = validateRetentionPolicy(policy);
  if (policyProblems.length > 0) return `invalid policy: ${policyProblems.join('; ')}`;
  if (Number.isNaN(now.getTime())) return 'invalid now: not a date';
  const unparseable = snapshots.find((s) => Number.isNaN(s.time));
  if (unparseable)
    return `snapshot ${unparseable.id}: startedAt ${JSON.stringify(unparseable.startedAt)} is not an ISO-8601 date-time with a zone`;
  const duplicate = snapshots.find((s, i) => snapshots.findIndex((t) => t.id === s.id) !== i);
  if (duplicate) return `duplicate snapshot id ${duplicate.id}: a delete could not say which one it means`;
  return undefined;
}

const utcDay = (time: number) => new Date(time).toISOString().slice(0, 10);
const utcMonth = (time: number) => new Date(time).toISOString().slice(0, 7);

/** ISO-8601 week, e.g. `2026-W47`: the week (Monday start) belongs to the year of its Thursday. */
function isoWeek(time: number): string {
  const date = new Date(time);
  const daysSinceMonday = (date.getUTCDay() + 6) % 7;
  const thursday = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() - daysSinceMonday + 3));
  const dayOfYear = Math.round((thursday.getTime() - Date.UTC(thursday.getUTCFullYear(), 0, 1)) / dayMs);
  const week = Math.floor(dayOfYear / 7) + 1;
  return `${thursday.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/** Decides which of one cluster's snapshots to keep and which to delete; see the module comment. */
export function planRetention(listing: ListingResult, policy: RetentionPolicy, now: Date): RetentionPlan {
  const snapshots = newestFirst(listing.snapshots);
  const refused = refusalOf(listing, policy, now, snapshots);
  if (refused !== undefined) return { keep: snapshots.map((s) => ({ id: s.id, reasons: [refused] })), delete: [], refused };

  const candidates = snapshots.filter((s) => s.status !== 'failed');
  const selectedFor = new Map<TimedSnapshot, string[]>(candidates.map((s) => [s, []]));
  for (const s of candidates.slice(0, policy.keepLast)) selectedFor.get(s)!.push(`last ${policy.keepLast}`);
  const periodRules = [
    { kind: 'daily', count: policy.daily, periodOf: utcDay },
    { kind: 'weekly', count: policy.weekly, periodOf: isoWeek },
    { kind: 'monthly', count: policy.monthly, periodOf: utcMonth },
  ];
  for (const { kind, count, periodOf } of periodRules) {
    const taken = new Set<string>();
    for (const s of candidates) {
      if (taken.size >= count) break;
      const period = periodOf(s.time);
      if (taken.has(period)) continue;
      taken.add(period);
      selectedFor.get(s)!.push(`${kind} ${period}`);
    }
  }

  const newestVerified = snapshots.find((s) => s.status === 'verified');
  const protectedSnapshot = newestVerified ?? snapshots.find((s) => s.status === 'uploaded');
  const protectionReason = newestVerified ? 'newest verified' : 'newest uploaded (no verified snapshot)';
  const isExpired = (s: TimedSnapshot) => policy.maxAgeDays !== undefined && now.getTime() - s.time > policy.maxAgeDays * dayMs;

  const plan: RetentionPlan = { keep: [], delete: [] };
  const locked: NonNullable<RetentionPlan['locked']> = [];
  for (const s of snapshots) {
    const reasons = isExpired(s) ? [] : [...(selectedFor.get(s) ?? [])];
    if (s === protectedSnapshot) reasons.push(protectionReason);
    if (reasons.length > 0) {
      plan.keep.push({ id: s.id, reasons });
      continue;
    }
    const reason =
      s.status === 'failed' ? 'failed verification' : isExpired(s) ? `older than ${policy.maxAgeDays} days` : 'not selected by policy';
    const lockedUntil = s.lockedUntil === undefined ? NaN : parseZonedDateTime(s.lockedUntil);
    if (lockedUntil > now.getTime()) locked.push({ id: s.id, reason, until: s.lockedUntil!, ...(s.lockMode ? { mode: s.lockMode } : {}) });
    else plan.delete.push({ id: s.id, reason });
  }
  if (locked.length) plan.locked = locked;
  return plan;
}
