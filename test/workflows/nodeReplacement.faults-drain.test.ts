// Node replacement under faults (mid-drain) (lab: Temporal, kube-apiserver/primary with its controllers, kwok; a
// worker process of its own per case, on a task queue of its own): `lifeboat node replace` of a Node
// of a test pool carrying Pods of a Deployment under a PodDisruptionBudget, with the worker killed -9
// once a step is done (each step boundary in turn) and in the middle of the drain, once the first Pod
// is evicted. A new worker finishes every run: one replacement Node, the old Node deleted once, each
// Pod that was on it evicted once and no other Pod evicted, and no activity run again but the one the
// dead worker had in hand (the Temporal history's attempts tell).
// lab: nodes (adds Nodes to the primary cluster, and kills some, in a pool of its own: other suites count the cluster's Nodes and their health): runs after them, beside the other Node suites (test/run.sh).
import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { watchFor } from '../helpers/kube-watch.js';
import { expectedAttempts, expectReplacedOnce, kc, replaceKilled, useKillHarness } from '../helpers/node-replacement-kills.js';

useKillHarness();

describe('node replacement with the worker killed -9 in the middle of the drain', () => {
  // The run takes about 40 s, or 2 minutes more when the kill cut short an eviction that the Eviction
  // API had counted against the budget but not carried out: the budget then holds that Pod in
  // status.disruptedPods, allowing no disruption, until the disruption controller gives up on it 2
  // minutes later; the retry then evicts it, once.
  it('in the middle of the drain, once the first Pod is evicted: the retry evicts the rest, none twice', async () => {
    const r = await replaceKilled('nrk-mid-drain', async (pool) => {
      const { match } = await watchFor<V1Pod>(kc, `/api/v1/namespaces/${pool.namespace}/pods`, (x) => !!x.metadata?.deletionTimestamp);
      return async () => {
        await match;
      };
    });
    // The budget allows one disruption at a time: one Pod was evicted when the worker died, inside the drain.
    expect(r.evictedAtKill).toBe(1);
    expect(r.inHand).toEqual(['drainNode']);
    expect(r.attempts).toEqual(expectedAttempts(['drainNode']));
    await expectReplacedOnce(r);
  }, 240_000);
});
