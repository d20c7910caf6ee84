// Unit and property tests of the retention planner, and of how a refused delete fails (pure: no lab needed).
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  planRetention,
  validateRetentionPolicy,
  type ListingResult,
  type RetentionPlan,
  type RetentionPolicy,
  type SnapshotRecord,
  type SnapshotStatus,
} from '../../model/retention.js';
import { retentionDeleteFailure } from '../../activities/etcd/snapshot.js';

const dayMs = 86_400_000;
const complete = (snapshots: SnapshotRecord[]): ListingResult => ({ snapshots, complete: true });
const none: RetentionPolicy = { keepLast: 0, daily: 0, weekly: 0, monthly: 0 };
const keptIds = (plan: RetentionPlan) => plan.keep.map((k) => k.id);

/** One snapshot a day at 02:00 UTC from `first` through `last` (YYYY-MM-DD), ids `snap-<day>`, newest first. */
function dailySnapshots(first: string, last: string, status: SnapshotStatus = 'verified'): SnapshotRecord[] {
  const snapshots: SnapshotRecord[] = [];
  for (let t = Date.parse(`${last}T02:00:00Z`); t >= Date.parse(`${first}T02:00:00Z`); t -= dayMs) {
    const startedAt = new Date(t).toISOString();
    snapshots.push({ id: `snap-${startedAt.slice(0, 10)}`, startedAt, status });
  }
  return snapshots;
}

describe('planRetention examples', () => {
  const now = new Date('2026-11-21T12:00:00Z');

  it('keeps last, daily, weekly and monthly snapshots of 40 days, with every reason', () => {
    const snapshots = dailySnapshots('2026-10-13', '2026-11-21');
    expect(snapshots).toHaveLength(40);
    const plan = planRetention(complete(snapshots), { keepLast: 3, daily: 7, weekly: 4, monthly: 6 }, now);
    expect(plan.keep).toEqual([
      { id: 'snap-2026-11-21', reasons: ['last 3', 'daily 2026-11-21', 'weekly 2026-W47', 'monthly 2026-11', 'newest verified'] },
      { id: 'snap-2026-11-20', reasons: ['last 3', 'daily 2026-11-20'] },
      { id: 'snap-2026-11-19', reasons: ['last 3', 'daily 2026-11-19'] },
      { id: 'snap-2026-11-18', reasons: ['daily 2026-11-18'] },
      { id: 'snap-2026-11-17', reasons: ['daily 2026-11-17'] },
      { id: 'snap-2026-11-16', reasons: ['daily 2026-11-16'] },
      { id: 'snap-2026-11-15', reasons: ['daily 2026-11-15', 'weekly 2026-W46'] },
      { id: 'snap-2026-11-08', reasons: ['weekly 2026-W45'] },
      { id: 'snap-2026-11-01', reasons: ['weekly 2026-W44'] },
      { id: 'snap-2026-10-31', reasons: ['monthly 2026-10'] },
    ]);
    expect(plan.delete).toHaveLength(30);
    expect(plan.delete[0]).toEqual({ id: 'snap-2026-11-14', reason: 'not selected by policy' });
    expect(plan.delete.every((d) => d.reason === 'not selected by policy')).toBe(true);
    expect(plan.refused).toBeUndefined();
  });

  it('refuses an incomplete listing: keeps everything, deletes nothing', () => {
    const snapshots = dailySnapshots('2026-11-01', '2026-11-21');
    const plan = planRetention({ snapshots, complete: false, problem: 'ListObjectsV2 page 2 timed out' }, none, now);
    expect(plan.refused).toBe('listing incomplete: ListObjectsV2 page 2 timed out');
    expect(plan.delete).toEqual([]);
    expect(keptIds(plan)).toEqual(snapshots.map((s) => s.id));
  });

  it('deletes failed snapshots and never counts them for keepLast or periods', () => {
    const snapshots: SnapshotRecord[] = [
      { id: 'c', startedAt: '2026-11-21T02:00:00Z', status: 'failed' },
      { id: 'b', startedAt: '2026-11-21T01:00:00Z', status: 'uploaded' },
      { id: 'a', startedAt: '2026-11-20T02:00:00Z', status: 'verified' },
    ];
    const plan = planRetention(complete(snapshots), { keepLast: 1, daily: 1, weekly: 0, monthly: 0 }, now);
    expect(plan.keep).toEqual([
      { id: 'b', reasons: ['last 1', 'daily 2026-11-21'] },
      { id: 'a', reasons: ['newest verified'] },
    ]);
    expect(plan.delete).toEqual([{ id: 'c', reason: 'failed verification' }]);
  });

  it('deletes every snapshot when all failed: none is a good backup', () => {
    const plan = planRetention(
      complete(dailySnapshots('2026-11-19', '2026-11-21', 'failed')),
      { keepLast: 5, daily: 5, weekly: 5, monthly: 5 },
      now,
    );
    expect(plan.keep).toEqual([]);
    expect(plan.delete.map((d) => d.reason)).toEqual(['failed verification', 'failed verification', 'failed verification']);
  });

  it('drops selected snapshots older than maxAgeDays, but never the newest verified', () => {
    const snapshots: SnapshotRecord[] = [
      { id: 'new', startedAt: '2026-11-20T00:00:00Z', status: 'uploaded' },
      { id: 'sep', startedAt: '2026-09-30T00:00:00Z', status: 'verified' },
      { id: 'aug', startedAt: '2026-08-31T00:00:00Z', status: 'uploaded' },
    ];
    const plan = planRetention(complete(snapshots), { keepLast: 0, daily: 0, weekly: 0, monthly: 6, maxAgeDays: 30 }, now);
    expect(plan.keep).toEqual([
      { id: 'new', reasons: ['monthly 2026-11'] },
      { id: 'sep', reasons: ['newest verified'] },
    ]);
    expect(plan.delete).toEqual([{ id: 'aug', reason: 'older than 30 days' }]);
  });

  it('is exact about the age limit: maxAgeDays × 24 h old is kept, one ms more is not', () => {
    const at = (ms: number) => new Date(now.getTime() - ms).toISOString();
    const snapshots: SnapshotRecord[] = [
      { id: 'v', startedAt: at(0), status: 'verified' },
      { id: 'edge', startedAt: at(2 * dayMs), status: 'uploaded' },
      { id: 'past', startedAt: at(2 * dayMs + 1), status: 'uploaded' },
    ];
    const plan = planRetention(complete(snapshots), { ...none, keepLast: 3, maxAgeDays: 2 }, now);
    expect(keptIds(plan)).toEqual(['v', 'edge']);
    expect(plan.delete).toEqual([{ id: 'past', reason: 'older than 2 days' }]);
  });

  it('protects the newest uploaded snapshot when none is verified, even older than maxAgeDays', () => {
    const snapshots: SnapshotRecord[] = [
      { id: 'failed', startedAt: '2026-11-21T00:00:00Z', status: 'failed' },
      { id: 'old', startedAt: '2025-01-01T00:00:00Z', status: 'uploaded' },
      { id: 'older', startedAt: '2024-12-01T00:00:00Z', status: 'uploaded' },
    ];
    const plan = planRetention(complete(snapshots), { keepLast: 3, daily: 0, weekly: 0, monthly: 0, maxAgeDays: 7 }, now);
    expect(plan.keep).toEqual([{ id: 'old', reasons: ['newest uploaded (no verified snapshot)'] }]);
    expect(plan.delete).toEqual([
      { id: 'failed', reason: 'failed verification' },
      { id: 'older', reason: 'older than 7 days' },
    ]);
  });

  it('an all-zero policy keeps only the protected snapshot: the newest verified, not a newer uploaded one', () => {
    const snapshots: SnapshotRecord[] = [
      { id: 'u', startedAt: '2026-11-21T00:00:00Z', status: 'uploaded' },
      { id: 'v2', startedAt: '2026-11-20T00:00:00Z', status: 'verified' },
      { id: 'v1', startedAt: '2026-11-19T00:00:00Z', status: 'verified' },
    ];
    const plan = planRetention(complete(snapshots), none, now);
    expect(plan.keep).toEqual([{ id: 'v2', reasons: ['newest verified'] }]);
    expect(plan.delete).toEqual([
      { id: 'u', reason: 'not selected by policy' },
      { id: 'v1', reason: 'not selected by policy' },
    ]);
  });

  it('breaks startedAt ties by id descending, whatever the listing order', () => {
    const snapshots: SnapshotRecord[] = ['a', 'c', 'b'].map((id) => ({ id, startedAt: '2026-11-21T00:00:00Z', status: 'uploaded' }));
    const plan = planRetention(complete(snapshots), { ...none, keepLast: 2 }, now);
    expect(plan.keep).toEqual([
      { id: 'c', reasons: ['last 2', 'newest uploaded (no verified snapshot)'] },
      { id: 'b', reasons: ['last 2'] },
    ]);
    expect(plan.delete).toEqual([{ id: 'a', reason: 'not selected by policy' }]);
    expect(planRetention(complete([...snapshots].reverse()), { ...none, keepLast: 2 }, now)).toEqual(plan);
  });

  it('treats snapshots from the future (clock skew) as the newest and never as too old', () => {
    const snapshots: SnapshotRecord[] = [
      { id: 'now', startedAt: '2026-11-21T11:00:00Z', status: 'verified' },
      { id: 'future', startedAt: '2027-03-01T00:00:00Z', status: 'verified' },
    ];
    const plan = planRetention(complete(snapshots), { ...none, keepLast: 1, maxAgeDays: 1 }, now);
    expect(plan.keep).toEqual([{ id: 'future', reasons: ['last 1', 'newest verified'] }]);
    expect(plan.delete).toEqual([{ id: 'now', reason: 'not selected by policy' }]);
  });

  it('uses ISO weeks across a year boundary (2020 has a week 53)', () => {
    const plan = planRetention(complete(dailySnapshots('2020-12-26', '2021-01-05')), { ...none, weekly: 3 }, now);
    expect(plan.keep).toEqual([
      { id: 'snap-2021-01-05', reasons: ['weekly 2021-W01', 'newest verified'] },
      { id: 'snap-2021-01-03', reasons: ['weekly 2020-W53'] },
      { id: 'snap-2020-12-27', reasons: ['weekly 2020-W52'] },
    ]);
  });

  it('names the ISO week of a late-December day after the year it belongs to', () => {
    const snapshots: SnapshotRecord[] = [{ id: 'x', startedAt: '2024-12-30T08:00:00Z', status: 'verified' }];
    expect(planRetention(complete(snapshots), { ...none, weekly: 1 }, now).keep[0]!.reasons).toEqual([
      'weekly 2025-W01',
      'newest verified',
    ]);
  });

  it('puts a snapshot in its UTC day and month, whatever offset startedAt was written with', () => {
    const snapshots: SnapshotRecord[] = [{ id: 'x', startedAt: '2026-11-01T01:00:00+02:00', status: 'verified' }];
    expect(planRetention(complete(snapshots), { ...none, daily: 1, monthly: 1 }, now).keep[0]!.reasons).toEqual([
      'daily 2026-10-31',
      'monthly 2026-10',
      'newest verified',
    ]);
  });

  it('returns an empty plan for an empty listing', () => {
    expect(planRetention(complete([]), { keepLast: 3, daily: 7, weekly: 4, monthly: 6 }, now)).toEqual({ keep: [], delete: [] });
  });

  it.each([
    [
      'a startedAt without a zone',
      [{ id: 'x', startedAt: '2026-11-21T02:00:00', status: 'verified' }],
      none,
      /^snapshot x: startedAt "2026-11-21T02:00:00" is not an ISO-8601 date-time with a zone$/,
    ],
    ['an unparseable startedAt', [{ id: 'x', startedAt: 'yesterday', status: 'verified' }], none, /^snapshot x: startedAt "yesterday"/],
    [
      'a duplicate id',
      [
        { id: 'x', startedAt: '2026-11-21T02:00:00Z', status: 'verified' },
        { id: 'x', startedAt: '2026-11-20T02:00:00Z', status: 'failed' },
      ],
      none,
      /^duplicate snapshot id x/,
    ],
    [
      'an invalid policy',
      [
        { id: 'x', startedAt: '2026-11-21T02:00:00Z', status: 'uploaded' },
        { id: 'y', startedAt: '2026-11-20T02:00:00Z', status: 'uploaded' },
      ],
      { ...none, keepLast: -1 },
      /^invalid policy: keepLast must be a non-negative integer/,
    ],
  ] as [string, SnapshotRecord[], RetentionPolicy, RegExp][])('refuses %s: deletes nothing', (_, snapshots, policy, refusal) => {
    const plan = planRetention(complete(snapshots), policy, now);
    expect(plan.refused).toMatch(refusal);
    expect(plan.delete).toEqual([]);
    expect(keptIds(plan).sort()).toEqual(snapshots.map((s) => s.id).sort());
  });

  it('refuses an invalid now', () => {
    const plan = planRetention(complete(dailySnapshots('2026-11-20', '2026-11-21')), none, new Date(NaN));
    expect(plan.refused).toBe('invalid now: not a date');
    expect(plan.delete).toEqual([]);
  });
});

describe('validateRetentionPolicy', () => {
  it('accepts counts of 0 and up, with or without maxAgeDays', () => {
    expect(validateRetentionPolicy(none)).toEqual([]);
    expect(validateRetentionPolicy({ keepLast: 3, daily: 7, weekly: 4, monthly: 6, maxAgeDays: 400 })).toEqual([]);
  });

  it('rejects negative and non-integer counts, naming each field', () => {
    expect(validateRetentionPolicy({ keepLast: -1, daily: 1.5, weekly: NaN, monthly: Infinity })).toEqual([
      'keepLast must be a non-negative integer (0 disables the rule), got -1',
      'daily must be a non-negative integer (0 disables the rule), got 1.5',
      'weekly must be a non-negative integer (0 disables the rule), got NaN',
      'monthly must be a non-negative integer (0 disables the rule), got Infinity',
    ]);
  });

  it('rejects a count that is not a number at all (config parsed without a schema)', () => {
    expect(validateRetentionPolicy({ ...none, daily: '7' as unknown as number })).toEqual([
      'daily must be a non-negative integer (0 disables the rule), got 7',
    ]);
  });

  it.each([0, -3, 2.5])('rejects maxAgeDays %p', (maxAgeDays) => {
    expect(validateRetentionPolicy({ ...none, maxAgeDays })).toEqual([
      `maxAgeDays must be a positive integer number of days (omit it for no age limit), got ${maxAgeDays}`,
    ]);
  });
});

// The oracle: each rule read straight off the specification, one snapshot at a time, by counting rather
// than by walking a sorted list as the implementation does. Periods are computed independently too.
const oracleIsoWeek = (time: number): string => {
  const startOfDay = Math.floor(time / dayMs) * dayMs;
  const monday = startOfDay - ((new Date(startOfDay).getUTCDay() + 6) % 7) * dayMs;
  const isoYear = new Date(monday + 3 * dayMs).getUTCFullYear();
  const jan4 = Date.UTC(isoYear, 0, 4);
  const week1Monday = jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * dayMs;
  return `${isoYear}-W${String((monday - week1Monday) / (7 * dayMs) + 1).padStart(2, '0')}`;
};
const oraclePeriods = [
  { kind: 'daily', count: (p: RetentionPolicy) => p.daily, of: (time: number) => new Date(time).toISOString().slice(0, 10) },
  { kind: 'weekly', count: (p: RetentionPolicy) => p.weekly, of: oracleIsoWeek },
  { kind: 'monthly', count: (p: RetentionPolicy) => p.monthly, of: (time: number) => new Date(time).toISOString().slice(0, 7) },
];

function oraclePlan(snapshots: SnapshotRecord[], policy: RetentionPolicy, now: Date): RetentionPlan {
  const time = (s: SnapshotRecord) => Date.parse(s.startedAt);
  const isNewer = (a: SnapshotRecord, b: SnapshotRecord) => time(a) > time(b) || (time(a) === time(b) && a.id > b.id);
  const good = snapshots.filter((s) => s.status !== 'failed');
  const isNewestWithStatus = (s: SnapshotRecord, status: SnapshotStatus) =>
    s.status === status && !snapshots.some((o) => o.status === status && isNewer(o, s));
  const hasVerified = snapshots.some((s) => s.status === 'verified');
  const tooOld = (s: SnapshotRecord) => policy.maxAgeDays !== undefined && now.getTime() - time(s) > policy.maxAgeDays * dayMs;

  const reasonsFor = (s: SnapshotRecord): string[] => {
    const reasons: string[] = [];
    if (s.status !== 'failed' && !tooOld(s)) {
      const newerGood = good.filter((o) => isNewer(o, s));
      if (newerGood.length < policy.keepLast) reasons.push(`last ${policy.keepLast}`);
      for (const period of oraclePeriods) {
        const newerPeriods = new Set(newerGood.map((o) => period.of(time(o))));
        const mine = period.of(time(s));
        if (!newerPeriods.has(mine) && newerPeriods.size < period.count(policy)) reasons.push(`${period.kind} ${mine}`);
      }
    }
    if (hasVerified ? isNewestWithStatus(s, 'verified') : isNewestWithStatus(s, 'uploaded')) {
      reasons.push(hasVerified ? 'newest verified' : 'newest uploaded (no verified snapshot)');
    }
    return reasons;
  };

  const plan: RetentionPlan = { keep: [], delete: [] };
  for (const s of [...snapshots].sort((a, b) => (isNewer(a, b) ? -1 : 1))) {
    const reasons = reasonsFor(s);
    if (reasons.length > 0) plan.keep.push({ id: s.id, reasons });
    else
      plan.delete.push({
        id: s.id,
        reason:
          s.status === 'failed' ? 'failed verification' : tooOld(s) ? `older than ${policy.maxAgeDays} days` : 'not selected by policy',
      });
  }
  return plan;
}

const start = Date.UTC(2025, 0, 1);
const statuses: SnapshotStatus[] = ['uploaded', 'verified', 'failed'];

/** A listing's snapshots: 0..60, spread over 3 days to 2 years (dense sets contest days, sparse ones months),
 * half of them on a 6-hour grid so some share an instant; per listing a subset of statuses, so "no verified"
 * and "all failed" happen. */
const snapshotsArb = fc
  .record({
    allowed: fc.subarray(statuses, { minLength: 1 }),
    spanDays: fc.constantFrom(3, 60, 730),
    raw: fc.uniqueArray(
      fc.record({
        id: fc.stringMatching(/^[a-z0-9]{1,4}$/),
        at: fc.integer({ min: 0, max: 730 * dayMs }),
        onGrid: fc.boolean(),
        pick: fc.nat(),
      }),
      { maxLength: 60, size: 'max', selector: (s) => s.id },
    ),
  })
  .map(({ allowed, spanDays, raw }) =>
    raw.map(({ id, at, onGrid, pick }): SnapshotRecord => {
      const offset = onGrid ? Math.floor((at * spanDays * 4) / (730 * dayMs)) * (dayMs / 4) : Math.floor((at * spanDays) / 730);
      return { id, startedAt: new Date(start + offset).toISOString(), status: allowed[pick % allowed.length]! };
    }),
  );
const count = fc.integer({ min: 0, max: 10 });
const policyArb: fc.Arbitrary<RetentionPolicy> = fc.record(
  { keepLast: count, daily: count, weekly: count, monthly: count, maxAgeDays: fc.integer({ min: 1, max: 400 }) },
  { requiredKeys: ['keepLast', 'daily', 'weekly', 'monthly'] },
);
/** From a month before the first possible snapshot (all in the future) to two months after the last. */
const nowArb = fc.integer({ min: -30 * dayMs, max: 790 * dayMs }).map((offset) => new Date(start + offset));
/** Snapshots, policy and now; with maxAgeDays, now is half the time exactly maxAgeDays after one snapshot. */
const scenarioArb = fc.tuple(snapshotsArb, policyArb).chain(([snapshots, policy]) => {
  const { maxAgeDays } = policy;
  const now =
    snapshots.length === 0 || maxAgeDays === undefined
      ? nowArb
      : fc.oneof(
          nowArb,
          fc.constantFrom(...snapshots).map((s) => new Date(Date.parse(s.startedAt) + maxAgeDays * dayMs)),
        );
  return fc.tuple(fc.constant(snapshots), fc.constant(policy), now);
});
const runs = { numRuns: 500 };

describe('planRetention properties', () => {
  it('matches the oracle exactly: same kept and deleted ids, same reasons, same order', () => {
    fc.assert(
      fc.property(scenarioArb, ([snapshots, policy, now]) => {
        expect(planRetention(complete(snapshots), policy, now)).toEqual(oraclePlan(snapshots, policy, now));
      }),
      runs,
    );
  });

  it('accounts for every snapshot exactly once, newest first in both lists', () => {
    fc.assert(
      fc.property(scenarioArb, ([snapshots, policy, now]) => {
        const plan = planRetention(complete(snapshots), policy, now);
        const planned = [...plan.keep.map((k) => k.id), ...plan.delete.map((d) => d.id)];
        expect([...planned].sort()).toEqual(snapshots.map((s) => s.id).sort());
        const timeOf = new Map(snapshots.map((s) => [s.id, Date.parse(s.startedAt)]));
        for (const ids of [keptIds(plan), plan.delete.map((d) => d.id)]) {
          ids.slice(1).forEach((id, i) => expect(timeOf.get(ids[i]!)!).toBeGreaterThanOrEqual(timeOf.get(id)!));
        }
        expect(plan.refused).toBeUndefined();
      }),
      runs,
    );
  });

  it('always keeps the newest verified snapshot, else the newest uploaded one', () => {
    fc.assert(
      fc.property(scenarioArb, ([snapshots, policy, now]) => {
        const plan = planRetention(complete(snapshots), policy, now);
        const newest = (status: SnapshotStatus) =>
          snapshots
            .filter((s) => s.status === status)
            .reduce<SnapshotRecord | undefined>(
              (best, s) => (!best || s.startedAt > best.startedAt || (s.startedAt === best.startedAt && s.id > best.id) ? s : best),
              undefined,
            );
        const lastGood = newest('verified') ?? newest('uploaded');
        if (lastGood) expect(keptIds(plan)).toContain(lastGood.id);
        else expect(plan.keep).toEqual([]);
      }),
      runs,
    );
  });

  it('keeps at most keepLast + daily + weekly + monthly + 1, never a failed snapshot, and every kept one has a reason', () => {
    fc.assert(
      fc.property(scenarioArb, ([snapshots, policy, now]) => {
        const plan = planRetention(complete(snapshots), policy, now);
        expect(plan.keep.length).toBeLessThanOrEqual(policy.keepLast + policy.daily + policy.weekly + policy.monthly + 1);
        const failed = new Set(snapshots.filter((s) => s.status === 'failed').map((s) => s.id));
        expect(keptIds(plan).filter((id) => failed.has(id))).toEqual([]);
        expect(plan.delete.filter((d) => failed.has(d.id)).every((d) => d.reason === 'failed verification')).toBe(true);
        expect(plan.keep.every((k) => k.reasons.length > 0)).toBe(true);
      }),
      runs,
    );
  });

  it('deletes nothing from an incomplete listing', () => {
    fc.assert(
      fc.property(snapshotsArb, policyArb, nowArb, fc.string(), (snapshots, policy, now, problem) => {
        const plan = planRetention({ snapshots, complete: false, problem }, policy, now);
        expect(plan.delete).toEqual([]);
        expect(keptIds(plan).sort()).toEqual(snapshots.map((s) => s.id).sort());
        expect(plan.refused).toBe(`listing incomplete: ${problem}`);
      }),
      runs,
    );
  });

  it('gives the same plan for the listing in any order', () => {
    const shuffled = snapshotsArb.chain((snapshots) =>
      fc.tuple(fc.constant(snapshots), fc.shuffledSubarray(snapshots, { minLength: snapshots.length, maxLength: snapshots.length })),
    );
    fc.assert(
      fc.property(shuffled, policyArb, nowArb, ([snapshots, reordered], policy, now) => {
        expect(planRetention(complete(reordered), policy, now)).toEqual(planRetention(complete(snapshots), policy, now));
      }),
      runs,
    );
  });
});

describe('retentionDeleteFailure', () => {
  const result = { plan: { keep: [], delete: [] }, dryRun: false, deletedObjects: ['etcd/c/a/manifest.json'], abortedUploads: [] };
  const refusal = (key: string, code: string) => ({ key, code, message: `${code} message` });

  it('is retryable only when every refusal is the store being busy, and carries what was deleted', () => {
    const busy = retentionDeleteFailure('c', result, [refusal('etcd/c/b/manifest.json', 'SlowDown'), refusal('etcd/c/x', 'InternalError')]);
    expect({ type: busy.type, nonRetryable: busy.nonRetryable, details: busy.details }).toEqual({
      type: 'RetentionDeleteFailed',
      nonRetryable: false,
      details: [result],
    });
    expect(busy.message).toBe(
      "retention of cluster 'c' deleted 1 of 3 objects; the store refused 2: etcd/c/b/manifest.json: SlowDown (SlowDown message); etcd/c/x: InternalError (InternalError message)",
    );
    const denied = retentionDeleteFailure('c', result, [
      refusal('etcd/c/b/manifest.json', 'SlowDown'),
      refusal('etcd/c/x', 'AccessDenied'),
    ]);
    expect({ type: denied.type, nonRetryable: denied.nonRetryable }).toEqual({ type: 'RetentionDeleteFailed', nonRetryable: true });
  });

  it('names the first five refusals and counts the rest', () => {
    const failed = Array.from({ length: 7 }, (_, i) => ({ key: `k${i}`, code: 'AccessDenied', message: '' }));
    expect(retentionDeleteFailure('c', { ...result, deletedObjects: [] }, failed).message).toBe(
      "retention of cluster 'c' deleted 0 of 7 objects; the store refused 7: k0: AccessDenied; k1: AccessDenied; k2: AccessDenied; k3: AccessDenied; k4: AccessDenied; and 2 more",
    );
  });
});

describe('planRetention and object lock, tampered manifests', () => {
  const now = new Date('2026-11-21T12:00:00Z');
  const snapshots = dailySnapshots('2026-11-17', '2026-11-21');

  it('a snapshot it would delete whose objects are locked until after now is reported locked, not deleted', () => {
    const locked = snapshots.map((s) =>
      s.id === 'snap-2026-11-17' ? { ...s, lockedUntil: '2026-11-24T02:00:00.000Z', lockMode: 'COMPLIANCE' } : s,
    );
    const plan = planRetention(complete(locked), { ...none, keepLast: 2 }, now);
    expect(keptIds(plan)).toEqual(['snap-2026-11-21', 'snap-2026-11-20']);
    expect(plan.delete.map((d) => d.id)).toEqual(['snap-2026-11-19', 'snap-2026-11-18']);
    expect(plan.locked).toEqual([
      { id: 'snap-2026-11-17', reason: 'not selected by policy', until: '2026-11-24T02:00:00.000Z', mode: 'COMPLIANCE' },
    ]);
  });

  it('a lock whose date has passed no longer holds: the snapshot is deleted', () => {
    const expired = snapshots.map((s) => ({ ...s, lockedUntil: '2026-11-21T11:59:59.000Z', lockMode: 'GOVERNANCE' }));
    const plan = planRetention(complete(expired), { ...none, keepLast: 2 }, now);
    expect(plan.delete).toHaveLength(3);
    expect(plan.locked).toBeUndefined();
  });

  it('a listing with tampered manifests is refused: nothing deleted', () => {
    const plan = planRetention({ ...complete(snapshots), tampered: ['manifest etcd/c/x/manifest.json was edited ...'] }, none, now);
    expect(plan.delete).toEqual([]);
    expect(plan.refused).toBe(
      '1 tampered manifest(s), nothing is deleted until someone has looked at the bucket: manifest etcd/c/x/manifest.json was edited ...',
    );
  });
});
