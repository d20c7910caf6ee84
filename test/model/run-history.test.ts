// The visibility query of `lifeboat history` (pure): each filter, and values quoted so they cannot change it.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { historyQuery, visibilityString } from '../../model/run-history.js';

describe('historyQuery', () => {
  it('without filters: every run that carries LifeboatRunbook', () => {
    expect(historyQuery({})).toBe('LifeboatRunbook IS NOT NULL');
  });

  it('each filter narrows with AND', () => {
    expect(
      historyQuery({ runbook: 'etcdSnapshot', cluster: 'primary', app: 'shop', startedSince: new Date('2026-12-01T00:00:00.000Z') }),
    ).toBe(
      "LifeboatRunbook IS NOT NULL AND LifeboatRunbook IN ('etcdSnapshot', 'runbook/etcdSnapshot') AND LifeboatCluster = 'primary' " +
        "AND LifeboatApp = 'shop' AND StartTime >= '2026-12-01T00:00:00.000Z'",
    );
  });

  it('a runbook document by its name or as runbook/<name>', () => {
    expect(historyQuery({ runbook: 'etcd-backup' })).toContain("LifeboatRunbook IN ('etcd-backup', 'runbook/etcd-backup')");
    expect(historyQuery({ runbook: 'runbook/etcd-backup' })).toContain("LifeboatRunbook IN ('runbook/etcd-backup')");
  });

  it.each([
    ['running', "ExecutionStatus = 'Running'"],
    ['succeeded', "(LifeboatOutcome = 'succeeded' OR (ExecutionStatus = 'Completed' AND LifeboatOutcome IS NULL))"],
    ['objectives-missed', "LifeboatOutcome = 'objectives-missed'"],
    ['failed', "(LifeboatOutcome = 'failed' OR (ExecutionStatus IN ('Failed', 'Terminated', 'TimedOut') AND LifeboatOutcome IS NULL))"],
    ['cancelled', "(LifeboatOutcome = 'cancelled' OR (ExecutionStatus = 'Canceled' AND LifeboatOutcome IS NULL))"],
  ] as const)('outcome %s: the run’s own account, or its status where it has none', (outcome, condition) => {
    expect(historyQuery({ outcome })).toBe(`LifeboatRunbook IS NOT NULL AND ${condition}`);
  });

  it('a value with quotes or backslashes is one literal', () => {
    expect(visibilityString("a' OR LifeboatCluster = 'b")).toBe("'a\\' OR LifeboatCluster = \\'b'");
    expect(visibilityString('c:\\x')).toBe("'c:\\\\x'");
    expect(visibilityString('two\nlines')).toBe("'two\\nlines'");
  });

  it('any value: one literal whose only unescaped quotes are its two ends', () => {
    fc.assert(
      fc.property(fc.string(), (value) => {
        const literal = visibilityString(value);
        // Drop every escape pair; what is left has no quote or backslash inside.
        const inner = literal.slice(1, -1).replace(/\\./g, '');
        expect(literal.startsWith("'") && literal.endsWith("'")).toBe(true);
        expect(inner).not.toMatch(/['"\\\n\r]/);
        // And it reads back as the value.
        const unescaped = literal.slice(1, -1).replace(/\\(.)/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t', '0': '\0' })[c] ?? c);
        expect(unescaped).toBe(value);
      }),
    );
  });
});
