// The node health watch's schedule from the configuration (`schedule apply` makes it; no Temporal here:
// the schedule it would create), and `node watch status` with no cluster watched (lab configuration).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import { nodeHealthSchedules } from '../../cli/schedule.js';
import { loadAllRunbooks } from '../../cli/runbook-documents.js';
import { CliError } from '../../cli/output.js';
import type { LifeboatConfig } from '../../worker/config.js';
import { labConfig, lifeboat } from '../helpers/lab.js';

const runbooksDir = fileURLToPath(new URL('../../../runbooks/', import.meta.url));
const empty = mkdtempSync(join(tmpdir(), 'lifeboat-no-runbooks-'));
afterAll(() => rmSync(empty, { recursive: true, force: true }));

/** The lab's configuration with primary watched. */
function watched(dir = runbooksDir): LifeboatConfig {
  const c = labConfig();
  return {
    ...c,
    runbooks: { ...c.runbooks, dir },
    clusters: c.clusters.map((x) =>
      x.name === 'primary'
        ? { ...x, nodeHealth: { ...x.nodeHealth, watch: true, watchEvery: 30, selector: 'pool=workers', maxUnhealthy: '20%' as const } }
        : x,
    ),
  };
}

describe('node health watch schedule', () => {
  it('one schedule per watched cluster: every watchEvery, its rules, the node-replacement runbook as validated now', () => {
    const config = watched();
    const [s, ...more] = nodeHealthSchedules(config, loadAllRunbooks(config));
    expect(more).toEqual([]);
    expect(s!.scheduleId).toBe('node-health/primary');
    expect(s!.spec).toEqual({ intervals: [{ every: 30_000 }] });
    expect(s!.policies).toEqual({ overlap: 'SKIP', catchupWindow: 30_000 });
    const action = s!.action as unknown as {
      workflowType: string;
      workflowId: string;
      args: [Record<string, unknown>];
      memo: Record<string, unknown>;
    };
    expect([action.workflowType, action.workflowId, action.memo.cron]).toEqual(['nodeHealthWatch', 'node-health/primary', 'every 30s']);
    const [input] = action.args as [
      { cluster: string; policy: unknown; replacement: { document: { metadata: { name: string } }; parameters: Record<string, unknown> } },
    ];
    expect(input.cluster).toBe('primary');
    expect(input.policy).toEqual({
      unhealthyAfterSeconds: 300,
      maxUnhealthy: '20%',
      stormThreshold: '55%',
      pause: false,
      selector: 'pool=workers',
    });
    expect(input.replacement.document.metadata.name).toBe('node-replacement');
    expect(input.replacement.parameters).toMatchObject({ cluster: 'primary', mode: 'planned', nodeStartupTimeoutSeconds: 600 });
  });

  it('no watched cluster, no schedule; a watched one without the node-replacement runbook is refused, naming the key', () => {
    const plain = labConfig();
    expect(nodeHealthSchedules(plain, loadAllRunbooks(plain))).toEqual([]);
    const config = watched(empty);
    expect(() => nodeHealthSchedules(config, [])).toThrow(
      new CliError(`clusters[0].nodeHealth.watch needs the node-replacement runbook in ${empty}; no schedule was changed`, 2),
    );
  });

  it('node watch status with no cluster watched says how to watch one, exit 2', async () => {
    const result = await lifeboat(['node', 'watch', 'status']);
    expect([result.exitCode, result.stderr]).toEqual([
      2,
      'lifeboat: no cluster is watched: set clusters[].nodeHealth.watch: true, then `lifeboat schedule apply`',
    ]);
  });
});
