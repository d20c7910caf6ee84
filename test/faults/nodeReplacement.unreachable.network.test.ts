// Network fault test of the node-replacement runbook (lab: toxiproxy, Temporal, kube-apiserver/primary
// with its controllers, kwok): a worker of the test's own reaches the primary's API only through a
// Toxiproxy proxy of this suite's own, black-holed at the drain's first eviction and never cleared. The
// run fails once the drain's deadline has passed, as RunbookStepFailed naming the drain step and the
// unanswered API (not as Pods a budget refuses, which would ask an approver to delete them); the Node is
// neither deleted nor replaced, and the report says the uncordon could not be done: the Node stays
// cordoned, and where the run stopped is on record.
// lab: nodes (adds Nodes to the primary cluster in a pool of its own: other suites count the cluster's Nodes and their health): runs after them, beside the other Node suites (test/run.sh).
import { describe, expect, it } from '@jest/globals';
import { WorkflowFailedError } from '@temporalio/client';
import { labelValue } from '../../activities/node-provider/index.js';
import { provisionLabels } from '../../activities/node-provider/provider.js';
import { failureTypes } from '../../model/failures.js';
import type { RunbookReport } from '../../model/runbook/run.js';
import { readDirect } from '../helpers/apiserver-proxy.js';
import { core, startNodeReplacement, useProxiedNodeReplacement } from '../helpers/node-replacement-faults.js';

const drainTimeoutSeconds = 20;
const suite = useProxiedNodeReplacement();

describe('node replacement with the primary API black-holed mid-drain for good', () => {
  it('fails after the drain deadline as RunbookStepFailed naming the drain and the API; nothing deleted, the report says the Node stays cordoned', async () => {
    const { api, w } = suite;
    const t0 = Date.now();
    const run = (suite.run = await startNodeReplacement(w, 'nrf-gone', { drainTimeoutSeconds }));
    await run.firstEviction;
    await api.blackhole();
    const holed = Date.now();
    const err = (await run.handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    process.stderr.write(
      `[node-replacement unreachable] failed ${(Date.now() - t0) / 1000} s after the start, ${(Date.now() - holed) / 1000} s after the fault\n`,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    // After the drain's deadline, and boundedly so: its last attempt's wait, the uncordon's retries.
    expect(Date.now() - t0).toBeGreaterThan(drainTimeoutSeconds * 1000);
    expect(Date.now() - holed).toBeLessThan(180_000);
    const cause = err.cause as { type?: string; message?: string; details?: unknown[] };
    expect(cause.type).toBe(failureTypes.RunbookStepFailed);
    expect(cause.message).toMatch(/^runbook node-replacement: step drain failed: .*'primary'.*(no answer|did not answer)/);
    expect(cause.message).toMatch(/FAILED to undo: cordon\/compensate\.uncordon: /);
    const report = cause.details?.[0] as RunbookReport;
    expect(report.status).toBe('failed');
    const state = Object.fromEntries(report.steps.map((s) => [s.id, s.state]));
    expect(state).toMatchObject({
      preflight: 'succeeded',
      cordon: 'succeeded',
      drain: 'failed',
      'approve-delete': 'skipped',
      'delete-blocked': 'skipped',
      'delete-node': 'skipped',
      provision: 'skipped',
    });

    // Nothing deleted or replaced; the Node is cordoned, as the report says (read direct).
    const { victim } = run;
    const node = await readDirect(() => core.readNode({ name: victim }));
    expect(node.metadata?.uid).toBe(run.victimUid);
    expect(node.spec?.unschedulable).toBe(true);
    expect(run.nodesDeleted).toEqual([]);
    expect((await readDirect(() => core.listNode({ labelSelector: `${provisionLabels.replaces}=${labelValue(victim)}` }))).items).toEqual(
      [],
    );
    // What was evicted before the fault was the victim's, each once.
    expect(run.evicted.length).toBeGreaterThanOrEqual(1);
    expect(run.evicted.every((uid) => run.onVictim.includes(uid))).toBe(true);
  }, 300_000);
});
