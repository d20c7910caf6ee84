// Node replacement under faults (the late boundaries) (lab: Temporal, kube-apiserver/primary with its controllers, kwok; a
// worker process of its own per case, on a task queue of its own): `lifeboat node replace` of a Node
// of a test pool carrying Pods of a Deployment under a PodDisruptionBudget, with the worker killed -9
// once a step is done (each step boundary in turn) and in the middle of the drain, once the first Pod
// is evicted. A new worker finishes every run: one replacement Node, the old Node deleted once, each
// Pod that was on it evicted once and no other Pod evicted, and no activity run again but the one the
// dead worker had in hand (the Temporal history's attempts tell).
// lab: nodes (adds Nodes to the primary cluster, and kills some, in a pool of its own: other suites count the cluster's Nodes and their health): runs after them, beside the other Node suites (test/run.sh).
import { describe, it } from '@jest/globals';
import { boundaries, killAtBoundary, stepActivities, steps, useKillHarness } from '../helpers/node-replacement-kills.js';

useKillHarness();

describe('node replacement with the worker killed -9 at the late step boundaries', () => {
  it.each(boundaries.slice(3).map((b) => [b, steps[steps.indexOf(b) + 1]!, stepActivities[steps.indexOf(b) + 1]![1]] as const))(
    'once %s is done (before %s): succeeds once, one replacement, the Node deleted once, no Pod evicted twice',
    (boundary, _next, nextActivity) => killAtBoundary(boundary, nextActivity),
    240_000,
  );
});
