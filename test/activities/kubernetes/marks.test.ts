// Unit: the marks a failover leaves on Deployments. Which mark counts as a run's own (labels now,
// annotations of runs from before marks were labels), and that a mark is a label Kubernetes accepts.
import { describe, expect, it } from '@jest/globals';
import type { V1Deployment } from '@kubernetes/client-node';
import { labelTime, mark, markedBy, markOn, parseLabelTime, unmark } from '../../../activities/kubernetes/marks.js';

const runId = '0195f3a2-6c1e-7b3d-9a41-2f5e8c7d6b10';
const run = { workflowId: 'failover/shop', runId };
const deployment = (metadata: V1Deployment['metadata']): V1Deployment => ({ metadata });
/** A label value Kubernetes accepts: at most 63 characters, alphanumerics with `-_.` inside. */
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

describe('marks', () => {
  it("a run's fence is labels Kubernetes accepts, and removes every other mark in both places", () => {
    const at = new Date('2026-12-02T14:16:36.123Z');
    const patch = mark('fenced', run, 3, at);
    expect(patch.labels).toEqual({
      'lifeboat.io/fenced-by': runId,
      'lifeboat.io/fenced-replicas': '3',
      'lifeboat.io/fenced-at': '20261202T141636.123Z',
      'lifeboat.io/activated-by': null,
      'lifeboat.io/pre-activation-replicas': null,
    });
    expect(Object.values(patch.annotations)).toEqual([null, null, null, null, null]);
    for (const v of Object.values(patch.labels)) if (v !== null) expect(v).toMatch(labelValue);
    expect(parseLabelTime(patch.labels['lifeboat.io/fenced-at']!)).toBe(at.getTime());
  });

  it('a run from before run-scoped ownership marks with annotations naming its workflow, as it always did', () => {
    const patch = mark('activated', { workflowId: 'failover/shop' }, 0);
    expect(patch.annotations).toMatchObject({ 'lifeboat.io/activated-by': 'failover/shop', 'lifeboat.io/pre-activation-replicas': '0' });
    expect(Object.values(patch.labels).every((v) => v === null)).toBe(true);
  });

  it("counts as a run's own only its label with its run ID, or its legacy annotation with its owner", () => {
    const label = deployment({ labels: { 'lifeboat.io/fenced-by': runId, 'lifeboat.io/fenced-replicas': '2' } });
    expect(markOn(label, 'fenced')).toEqual({ by: runId, replicas: 2, label: true });
    expect([markedBy(label, 'fenced', run), markedBy(label, 'activated', run)]).toEqual([true, false]);
    expect(markedBy(label, 'fenced', { workflowId: run.workflowId, runId: '00000000-0000-4000-8000-000000000000' })).toBe(false);
    // A run without a run ID never owns a label: the label names a run, not the app's lock.
    expect(markedBy(label, 'fenced', { workflowId: run.workflowId })).toBe(false);

    const legacy = deployment({ annotations: { 'lifeboat.io/fenced-by': `failover/shop@${runId}`, 'lifeboat.io/fenced-replicas': '4' } });
    expect(markOn(legacy, 'fenced')).toEqual({ by: `failover/shop@${runId}`, replicas: 4, label: false });
    expect(markedBy(legacy, 'fenced', run)).toBe(true);
    const bare = deployment({ annotations: { 'lifeboat.io/fenced-by': 'failover/shop' } });
    expect([markedBy(bare, 'fenced', { workflowId: 'failover/shop' }), markedBy(bare, 'fenced', run)]).toEqual([true, false]);
    expect(markOn(bare, 'fenced')!.replicas).toBeUndefined();

    // Where both are (a retry after the upgrade), the label is the run's word.
    const both = deployment({
      labels: { 'lifeboat.io/fenced-by': runId, 'lifeboat.io/fenced-replicas': '1' },
      annotations: { 'lifeboat.io/fenced-by': 'failover/other', 'lifeboat.io/fenced-replicas': '9' },
    });
    expect(markOn(both, 'fenced')).toEqual({ by: runId, replicas: 1, label: true });
    expect(
      markOn(deployment({ labels: { 'lifeboat.io/fenced-by': runId, 'lifeboat.io/fenced-replicas': 'x' } }), 'fenced')!.replicas,
    ).toBeUndefined();
    expect(markOn(deployment({}), 'fenced')).toBeUndefined();
  });

  it('unmark removes every mark, labels and annotations', () => {
    const { labels, annotations } = unmark();
    expect(Object.keys(labels).sort()).toEqual(Object.keys(annotations).sort());
    expect(Object.keys(labels)).toHaveLength(5);
    expect([...Object.values(labels), ...Object.values(annotations)].every((v) => v === null)).toBe(true);
  });

  it('label times read back, and ISO times (legacy annotations) too; anything else is NaN', () => {
    const t = new Date('2026-01-01T00:00:00.000Z');
    expect(labelTime(t)).toBe('20260101T000000.000Z');
    expect(parseLabelTime('20260101T000000Z')).toBe(t.getTime());
    expect(parseLabelTime('2026-01-01T00:00:00.000Z')).toBe(t.getTime());
    expect(parseLabelTime('yesterday')).toBeNaN();
  });
});
