// Unit and property tests of etcd recovery's pure rules (model/etcd-recovery.ts): which snapshot a
// restore uses, the quorum arithmetic of a member replacement, the restore plan's names and numbers,
// and which data dirs may be moved aside. No lab needed.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  chooseRestoreSnapshot,
  dataDirMoveRefusal,
  dataLossWindow,
  etcdutlRestoreArgs,
  etcdutlSupportsRevisionBump,
  initialClusterFlag,
  movedAsideDataDir,
  planEtcdRestore,
  planMemberReplacement,
  quorum,
  restoreClusterToken,
  revisionBumpFor,
  type EtcdMember,
  type EtcdRestorePlan,
  type EtcdRestorePlanInput,
  type RestoreMember,
  type SnapshotListing,
} from '../../model/etcd-recovery.js';
import { failureTypes } from '../../model/failures.js';
import type { SnapshotManifest, SnapshotStatus } from '../../model/snapshot-layout.js';

const runId = '0196f3a2-7b1c-7d4e-9f8e-7d6c5b4a3921';
const otherRunId = '0196f3a2-7b1c-7d4e-a1b2-c3d4e5f60718';

function manifest(snapshotId: string, startedAt: string, status: SnapshotStatus, over: Partial<SnapshotManifest> = {}): SnapshotManifest {
  return {
    kind: 'lifeboat.etcd-snapshot',
    formatVersion: 1,
    cluster: 'primary',
    snapshotId,
    status,
    etcd: {
      endpoint: 'https://127.0.0.1:2379',
      memberId: '8e9e05c52164694d',
      version: '3.6.5',
      revisionAtStart: 41_200,
      dbSizeBytes: 1 << 20,
    },
    object: {
      objectKey: `etcd/primary/${snapshotId}/snapshot.a1.db.lbenc`,
      plaintextBytes: 1 << 20,
      plaintextSha256: 'a'.repeat(64),
      storedBytes: (1 << 20) + 4096,
      storedSha256: 'b'.repeat(64),
      etcdTrailerVerified: true,
    },
    encryption: { algorithm: 'AES-256-GCM-STREAM', keyId: 'k1', chunkSize: 1 << 20 },
    inventory: { revision: 41_200, totalKeys: 900, prefixes: { pods: 40 } },
    startedAt,
    finishedAt: startedAt,
    workflowId: `etcd-snapshot/primary/${startedAt}`,
    runId,
    // Only whether there is one matters here; listManifests checks the MAC itself.
    mac: { algorithm: 'HMAC-SHA256', keyId: 'k1', value: 'c2lnbmVk' },
    ...over,
  };
}

const listed = (...manifests: SnapshotManifest[]): SnapshotListing => ({ manifests, complete: true });

// Newest last on purpose: the chooser must not depend on the listing's order.
const day1Verified = manifest('20261120T020000Z-000000000001', '2026-11-20T02:00:00.000Z', 'verified');
const day2Verified = manifest('20261121T020000Z-000000000002', '2026-11-21T02:00:00.000Z', 'verified');
const day2Failed = manifest('20261121T140000Z-000000000003', '2026-11-21T14:00:00.000Z', 'failed', {
  verification: { at: '2026-11-21T14:30:00.000Z', result: 'failed: object secrets/shop/shop-payment missing', workflowId: 'verify-etcd/x' },
});
const day3Uploaded = manifest('20261122T020000Z-000000000004', '2026-11-22T02:00:00.000Z', 'uploaded');
const history = listed(day1Verified, day2Verified, day2Failed, day3Uploaded);

const refusalOf = (decision: { ok: boolean }) => {
  expect(decision.ok).toBe(false);
  return decision as { ok: false; type: string; reason: string };
};

describe('chooseRestoreSnapshot', () => {
  it('defaults to the newest verified snapshot, passing over newer uploaded and failed ones', () => {
    expect(chooseRestoreSnapshot(history, { cluster: 'primary' })).toEqual({
      ok: true,
      snapshot: day2Verified,
      unverified: false,
      why: 'the newest verified snapshot: 20261121T020000Z-000000000002 (taken 2026-11-21T02:00:00.000Z)',
    });
  });

  it('does not depend on the listing order; same-second snapshots go by id', () => {
    const twin = manifest('20261121T020000Z-00000000000f', '2026-11-21T02:00:00.000Z', 'verified');
    fc.assert(
      fc.property(fc.shuffledSubarray([day1Verified, day2Verified, twin, day2Failed, day3Uploaded], { minLength: 5 }), (shuffled) => {
        const choice = chooseRestoreSnapshot(listed(...shuffled), { cluster: 'primary' });
        expect(choice.ok && choice.snapshot.snapshotId).toBe(twin.snapshotId);
      }),
    );
  });

  it('takes the newest verified one strictly before a time', () => {
    const choice = chooseRestoreSnapshot(history, { cluster: 'primary', before: '2026-11-21T02:00:00Z' });
    expect(choice.ok && choice.snapshot).toBe(day1Verified);
    expect(choice.ok && choice.why).toBe(
      'the newest verified snapshot taken before 2026-11-21T02:00:00Z: 20261120T020000Z-000000000001 (taken 2026-11-20T02:00:00.000Z)',
    );
    const offset = chooseRestoreSnapshot(history, { cluster: 'primary', before: '2026-11-21T03:00:01+01:00' });
    expect(offset.ok && offset.snapshot).toBe(day2Verified);
  });

  it('refuses when none verified was taken before the time, naming the oldest and newest verified ones', () => {
    const r = refusalOf(chooseRestoreSnapshot(history, { cluster: 'primary', before: '2026-11-19T00:00:00Z' }));
    expect(r.type).toBe(failureTypes.NoRestorableSnapshot);
    expect(r.reason).toBe(
      "no verified snapshot of cluster 'primary' was taken before 2026-11-19T00:00:00Z: the oldest verified one is 20261120T020000Z-000000000001 (taken 2026-11-20T02:00:00.000Z), the newest 20261121T020000Z-000000000002 (taken 2026-11-21T02:00:00.000Z); give a later time, or name a snapshot",
    );
  });

  it('points to verify or --force when only unverified snapshots fit', () => {
    const r = refusalOf(chooseRestoreSnapshot(listed(day2Failed, day3Uploaded), { cluster: 'primary' }));
    expect(r.type).toBe(failureTypes.NoRestorableSnapshot);
    expect(r.reason).toBe(
      "cluster 'primary' has no verified snapshot (1 uploaded, 1 failed); the newest unverified one is 20261122T020000Z-000000000004 (taken 2026-11-22T02:00:00.000Z): verify it with `lifeboat verify etcd --cluster primary --snapshot 20261122T020000Z-000000000004`, or restore it unverified with --force",
    );
  });

  it('with force and no verified snapshot, takes the newest uploaded one, flagged unverified', () => {
    const older = manifest('20261121T020000Z-000000000009', '2026-11-21T02:00:00.000Z', 'uploaded');
    const choice = chooseRestoreSnapshot(listed(older, day2Failed, day3Uploaded), { cluster: 'primary', force: true });
    expect(choice).toMatchObject({ ok: true, snapshot: day3Uploaded, unverified: true });
    expect(choice.ok && choice.why).toMatch(/restored unverified because of force$/);
    const before = chooseRestoreSnapshot(listed(older, day2Failed, day3Uploaded), {
      cluster: 'primary',
      force: true,
      before: '2026-11-22T00:00:00Z',
    });
    expect(before).toMatchObject({ ok: true, snapshot: older, unverified: true });
  });

  it('with force, still prefers a verified snapshot to a newer uploaded one', () => {
    expect(chooseRestoreSnapshot(history, { cluster: 'primary', force: true })).toMatchObject({
      ok: true,
      snapshot: day2Verified,
      unverified: false,
    });
  });

  it('with force and nothing uploaded either, refuses and says so', () => {
    const r = refusalOf(chooseRestoreSnapshot(listed(day2Failed), { cluster: 'primary', force: true }));
    expect(r.type).toBe(failureTypes.NoRestorableSnapshot);
    expect(r.reason).toBe("cluster 'primary' has no verified snapshot (0 uploaded, 1 failed), and none uploaded to force");
  });

  it('refuses a cluster with no snapshots at all', () => {
    const r = refusalOf(chooseRestoreSnapshot(listed(), { cluster: 'primary' }));
    expect(r).toEqual({
      ok: false,
      type: failureTypes.NoRestorableSnapshot,
      reason: "cluster 'primary' has no snapshot in the object store: nothing to restore from",
    });
  });

  it('never takes another cluster’s snapshot by default', () => {
    const foreign = manifest('20261123T020000Z-000000000005', '2026-11-23T02:00:00.000Z', 'verified', { cluster: 'backup' });
    expect(chooseRestoreSnapshot(listed(foreign, day1Verified), { cluster: 'primary' })).toMatchObject({
      ok: true,
      snapshot: day1Verified,
    });
    const r = refusalOf(chooseRestoreSnapshot(listed(foreign), { cluster: 'primary', force: true }));
    expect(r.reason).toBe(
      "cluster 'primary' has no snapshot in the object store (1 manifests under its prefix name other clusters): nothing to restore from",
    );
  });

  describe('a named snapshot', () => {
    it('is restored when verified', () => {
      expect(chooseRestoreSnapshot(history, { cluster: 'primary', snapshotId: day1Verified.snapshotId })).toEqual({
        ok: true,
        snapshot: day1Verified,
        unverified: false,
        why: 'snapshot 20261120T020000Z-000000000001 (taken 2026-11-20T02:00:00.000Z), as asked',
      });
    });

    it('that does not exist is refused, naming the newest verified one', () => {
      const r = refusalOf(chooseRestoreSnapshot(history, { cluster: 'primary', snapshotId: '20261101T000000Z-0000000000ff' }));
      expect(r.type).toBe(failureTypes.SnapshotNotFound);
      expect(r.reason).toBe(
        "cluster 'primary' has no snapshot 20261101T000000Z-0000000000ff (4 listed; the newest verified one is 20261121T020000Z-000000000002 (taken 2026-11-21T02:00:00.000Z)); see `lifeboat snapshots list --cluster primary`",
      );
    });

    it('that is uploaded is refused without force, pointing to verify', () => {
      const r = refusalOf(chooseRestoreSnapshot(history, { cluster: 'primary', snapshotId: day3Uploaded.snapshotId }));
      expect(r.type).toBe(failureTypes.SnapshotNotVerified);
      expect(r.reason).toContain('`lifeboat verify etcd --cluster primary --snapshot 20261122T020000Z-000000000004`');
      expect(r.reason).toContain('--force');
    });

    it('that is uploaded is restored with force, flagged unverified', () => {
      const choice = chooseRestoreSnapshot(history, { cluster: 'primary', snapshotId: day3Uploaded.snapshotId, force: true });
      expect(choice).toMatchObject({ ok: true, snapshot: day3Uploaded, unverified: true });
    });

    it('that failed verification is refused, even with force, with the verification’s words', () => {
      for (const force of [false, true]) {
        const r = refusalOf(chooseRestoreSnapshot(history, { cluster: 'primary', snapshotId: day2Failed.snapshotId, force }));
        expect(r.type).toBe(failureTypes.SnapshotFailedVerification);
        expect(r.reason).toContain('failed its restore verification: object secrets/shop/shop-payment missing');
      }
    });

    it('whose manifest names another cluster is refused, even with force', () => {
      const stray = manifest('20261123T020000Z-000000000006', '2026-11-23T02:00:00.000Z', 'verified', { cluster: 'backup' });
      for (const force of [false, true]) {
        const r = refusalOf(
          chooseRestoreSnapshot(listed(stray, day1Verified), { cluster: 'primary', snapshotId: stray.snapshotId, force }),
        );
        expect(r.type).toBe(failureTypes.SnapshotOfAnotherCluster);
        expect(r.reason).toContain("its manifest names cluster 'backup'");
      }
    });
  });

  describe('an incomplete listing', () => {
    const partial: SnapshotListing = { ...history, complete: false, problem: 'could not read 1 manifest(s)' };

    it('is refused for a default choice: the newest could be the one it missed', () => {
      const r = refusalOf(chooseRestoreSnapshot(partial, { cluster: 'primary' }));
      expect(r.type).toBe(failureTypes.SnapshotListingIncomplete);
      expect(r.reason).toContain("the listing of the snapshots of cluster 'primary' is incomplete (could not read 1 manifest(s))");
    });

    it('still serves a named snapshot it has, and does not call a missing one nonexistent', () => {
      expect(chooseRestoreSnapshot(partial, { cluster: 'primary', snapshotId: day1Verified.snapshotId })).toMatchObject({ ok: true });
      const r = refusalOf(chooseRestoreSnapshot(partial, { cluster: 'primary', snapshotId: '20261101T000000Z-0000000000ff' }));
      expect(r.type).toBe(failureTypes.SnapshotListingIncomplete);
    });
  });

  it('refuses a snapshot id with a time, and a time without a zone', () => {
    const both = refusalOf(
      chooseRestoreSnapshot(history, { cluster: 'primary', snapshotId: day1Verified.snapshotId, before: '2026-11-21T00:00:00Z' }),
    );
    expect(both.type).toBe(failureTypes.InvalidEtcdRecoveryRequest);
    for (const before of ['2026-11-21T10:00:00', 'yesterday', '2026-11-21']) {
      const r = refusalOf(chooseRestoreSnapshot(history, { cluster: 'primary', before }));
      expect(r.type).toBe(failureTypes.InvalidEtcdRecoveryRequest);
      expect(r.reason).toContain('expected an ISO-8601 date-time with a zone');
    }
  });

  it('never takes a snapshot whose time is unreadable for one before a time', () => {
    const odd = manifest('odd', 'last tuesday', 'verified');
    expect(refusalOf(chooseRestoreSnapshot(listed(odd), { cluster: 'primary', before: '2030-01-01T00:00:00Z' })).type).toBe(
      failureTypes.NoRestorableSnapshot,
    );
  });
});

// ---------------------------------------------------------------------------------------------------

const member = (name: string, healthy = true, over: Partial<EtcdMember> = {}): EtcdMember => ({
  name,
  id: `${name.length.toString(16)}${name.replace(/[^0-9a-f]/g, '')}`.padEnd(16, '0'),
  peerURLs: [`https://${name}.primary.internal:2380`],
  healthy,
  ...over,
});
const threeMembers = (dead: string[] = [], leader = 'etcd-0') =>
  ['etcd-0', 'etcd-1', 'etcd-2'].map((n) => member(n, !dead.includes(n), { isLeader: n === leader && !dead.includes(n) }));

describe('quorum', () => {
  it('is a majority of voters: the fault-tolerance table of etcd’s FAQ for 1 to 7 members', () => {
    const table = [1, 2, 3, 4, 5, 6, 7].map((n) => [n, quorum(n), n - quorum(n)]);
    expect(table).toEqual([
      [1, 1, 0],
      [2, 2, 0],
      [3, 2, 1],
      [4, 3, 1],
      [5, 3, 2],
      [6, 4, 2],
      [7, 4, 3],
    ]);
  });
});

describe('planMemberReplacement', () => {
  it('replaces the one dead member of three', () => {
    const plan = planMemberReplacement({ cluster: 'primary', member: 'etcd-2', members: threeMembers(['etcd-2']) });
    expect(plan).toMatchObject({
      ok: true,
      member: { name: 'etcd-2' },
      voters: 3,
      healthyVoters: 2,
      quorum: 2,
      votersAfterRemoval: 2,
      healthyAfterRemoval: 2,
      quorumAfterRemoval: 2,
      faultToleranceDuringReplacement: 0,
      addAsLearner: true,
      initialCluster:
        'etcd-0=https://etcd-0.primary.internal:2380,etcd-1=https://etcd-1.primary.internal:2380,etcd-2=https://etcd-2.primary.internal:2380',
    });
    expect(plan.ok && plan.moveLeaderTo).toBeUndefined();
    expect(plan.ok && plan.notes).toContain(
      "While 'etcd-2' is replaced the cluster tolerates no other failure: all 2 remaining healthy voting members are needed for quorum.",
    );
  });

  it('refuses with two of three dead and points to etcdRestore', () => {
    for (const target of ['etcd-0', 'etcd-1', 'etcd-2']) {
      const r = refusalOf(planMemberReplacement({ cluster: 'primary', member: target, members: threeMembers(['etcd-1', 'etcd-2']) }));
      expect(r.type).toBe(failureTypes.EtcdQuorumLost);
      expect(r.reason).toBe(
        "etcd of cluster 'primary' has lost quorum: 1 of 3 voting members healthy (etcd-0), 2 needed. Removing or adding a member needs quorum, so none can be replaced: restore the cluster from a snapshot with etcdRestore, `lifeboat etcd restore --cluster primary --reason TEXT`",
      );
    }
  });

  it('refuses to replace a healthy member while another is dead: replace the dead one first', () => {
    const r = refusalOf(planMemberReplacement({ cluster: 'primary', member: 'etcd-0', members: threeMembers(['etcd-2']) }));
    expect(r.type).toBe(failureTypes.EtcdReplacementWouldLoseQuorum);
    expect(r.reason).toBe(
      "replacing 'etcd-0' would lose the quorum of etcd in cluster 'primary': it is healthy, so removing it leaves 2 voting members of which 1 healthy (etcd-1), and 2 are needed. Replace the unhealthy member first (etcd-2); if that cannot be done, restore the cluster from a snapshot with etcdRestore, `lifeboat etcd restore --cluster primary --reason TEXT`",
    );
  });

  it('refuses to replace the only member of a one-member cluster', () => {
    const r = refusalOf(
      planMemberReplacement({ cluster: 'primary', member: 'etcd-0', members: [member('etcd-0', true, { isLeader: true })] }),
    );
    expect(r.type).toBe(failureTypes.EtcdReplacementWouldLoseQuorum);
    expect(r.reason).toContain('etcdRestore');
  });

  it('replaces the leader of a healthy cluster, moving leadership to a healthy member first', () => {
    const plan = planMemberReplacement({ cluster: 'primary', member: 'etcd-0', members: threeMembers([], 'etcd-0') });
    expect(plan).toMatchObject({ ok: true, moveLeaderTo: { name: 'etcd-1' }, healthyAfterRemoval: 2, faultToleranceDuringReplacement: 0 });
    expect(plan.ok && plan.notes[0]).toBe(
      "'etcd-0' is the leader: leadership moves to 'etcd-1' first, so writes pause for one leadership transfer, not an election.",
    );
  });

  it('refuses an unknown member, listing the known ones', () => {
    const members = [...threeMembers(), member('', false, { id: '91bc3c398fb3c146', peerURLs: ['https://10.0.0.9:2380'] })];
    const r = refusalOf(planMemberReplacement({ cluster: 'primary', member: 'etcd-9', members }));
    expect(r.type).toBe(failureTypes.UnknownEtcdMember);
    expect(r.reason).toBe(
      `etcd of cluster 'primary' has no member 'etcd-9'; its members: etcd-0 (${members[0]!.id}), etcd-1 (${members[1]!.id}), etcd-2 (${members[2]!.id}), unstarted member 91bc3c398fb3c146 (https://10.0.0.9:2380)`,
    );
    expect(refusalOf(planMemberReplacement({ cluster: 'primary', member: 'etcd-0', members: [] })).reason).toBe(
      "etcd of cluster 'primary' listed no members, so it has no member 'etcd-0'",
    );
  });

  it('finds a member by id too', () => {
    const members = threeMembers(['etcd-1']);
    expect(planMemberReplacement({ cluster: 'primary', member: members[1]!.id.toUpperCase(), members })).toMatchObject({
      ok: true,
      member: { name: 'etcd-1' },
    });
  });

  it('refuses two members of one name, and a member list with an unstarted member', () => {
    const twins = [member('etcd-0'), member('etcd-0', true, { id: 'ffff000000000000' }), member('etcd-2')];
    expect(refusalOf(planMemberReplacement({ cluster: 'primary', member: 'etcd-2', members: twins })).type).toBe(
      failureTypes.EtcdMembershipUnclear,
    );
    const unstarted = member('', false, { id: '91bc3c398fb3c146', peerURLs: ['https://10.0.0.9:2380'] });
    const five = [...['etcd-0', 'etcd-1', 'etcd-2', 'etcd-3'].map((n) => member(n, n !== 'etcd-3')), unstarted];
    const other = refusalOf(planMemberReplacement({ cluster: 'primary', member: 'etcd-3', members: five }));
    expect(other.type).toBe(failureTypes.EtcdMembershipUnclear);
    expect(other.reason).toContain('`etcdctl member remove 91bc3c398fb3c146`');
    const itself = refusalOf(planMemberReplacement({ cluster: 'primary', member: '91bc3c398fb3c146', members: five }));
    expect(itself.type).toBe(failureTypes.EtcdMembershipUnclear);
    expect(itself.reason).toContain('was added but never started, so there is nothing to replace');
  });

  it('does not count learners: removing one never changes quorum, and a learner leaves quorum as it is', () => {
    const members = [...threeMembers(['etcd-2']), member('etcd-3', false, { isLearner: true })];
    const plan = planMemberReplacement({ cluster: 'primary', member: 'etcd-3', members });
    expect(plan).toMatchObject({
      ok: true,
      voters: 3,
      healthyVoters: 2,
      votersAfterRemoval: 3,
      healthyAfterRemoval: 2,
      faultToleranceDuringReplacement: 0,
    });
    expect(plan.ok && plan.notes[0]).toBe("'etcd-3' is a learner: it has no vote, so removing it does not change quorum.");
    const lost = [...threeMembers(['etcd-1', 'etcd-2']), member('etcd-3', true, { isLearner: true })];
    expect(refusalOf(planMemberReplacement({ cluster: 'primary', member: 'etcd-3', members: lost })).type).toBe(
      failureTypes.EtcdQuorumLost,
    );
  });

  it('allows a replacement exactly when quorum holds now and once the member is removed, for 1 to 7 voters', () => {
    const cluster = fc
      .integer({ min: 1, max: 7 })
      .chain((n) => fc.tuple(fc.array(fc.boolean(), { minLength: n, maxLength: n }), fc.nat({ max: n - 1 }), fc.nat({ max: n - 1 })));
    fc.assert(
      fc.property(cluster, ([health, target, leader]) => {
        const n = health.length;
        const members = health.map((healthy, i) => member(`m${i}`, healthy, { isLeader: healthy && i === leader }));
        const healthy = health.filter(Boolean).length;
        const healthyAfterRemoval = healthy - (health[target] ? 1 : 0);
        const allowed = healthy >= quorum(n) && healthyAfterRemoval >= quorum(n - 1);
        const decision = planMemberReplacement({ cluster: 'primary', member: `m${target}`, members });
        expect(decision.ok).toBe(allowed);
        if (decision.ok) {
          expect(decision.healthyAfterRemoval).toBe(healthyAfterRemoval);
          expect(decision.faultToleranceDuringReplacement).toBe(healthyAfterRemoval - quorum(n - 1));
          expect(decision.moveLeaderTo !== undefined).toBe(members[target]!.isLeader === true);
          expect(decision.moveLeaderTo?.name).not.toBe(`m${target}`);
        } else {
          expect(decision.type).toBe(healthy < quorum(n) ? failureTypes.EtcdQuorumLost : failureTypes.EtcdReplacementWouldLoseQuorum);
          expect(decision.reason).toContain('etcdRestore');
        }
      }),
      { numRuns: 500 },
    );
  });

  it('decides every member list of 1 to 7 voters as the quorum table says', () => {
    let cases = 0;
    for (let n = 1; n <= 7; n++) {
      for (let pattern = 0; pattern < 2 ** n; pattern++) {
        const members = Array.from({ length: n }, (_, i) => member(`m${i}`, (pattern & (1 << i)) !== 0));
        const healthy = members.filter((m) => m.healthy).length;
        for (const target of members) {
          const allowed = healthy >= quorum(n) && healthy - (target.healthy ? 1 : 0) >= quorum(n - 1);
          expect([n, pattern, target.name, planMemberReplacement({ cluster: 'primary', member: target.name, members }).ok]).toEqual([
            n,
            pattern,
            target.name,
            allowed,
          ]);
          cases++;
        }
      }
    }
    expect(cases).toBe(1538);
  });

  it('for an even cluster, a dead member with quorum lost is refused even though the smaller cluster would have it', () => {
    const members = ['a', 'b', 'c', 'd'].map((n) => member(n, n === 'a' || n === 'b'));
    const r = refusalOf(planMemberReplacement({ cluster: 'primary', member: 'd', members }));
    expect(r.type).toBe(failureTypes.EtcdQuorumLost);
    expect(r.reason).toContain('2 of 4 voting members healthy (a, b), 3 needed');
  });
});

// ---------------------------------------------------------------------------------------------------

const restoreMembers: RestoreMember[] = [
  { name: 'etcd-2', peerURLs: ['https://10.0.0.3:2380'], dataDir: '/var/lib/etcd', host: 'cp-2' },
  { name: 'etcd-0', peerURLs: ['https://10.0.0.1:2380'], dataDir: '/var/lib/etcd/', host: 'cp-0' },
  { name: 'etcd-1', peerURLs: ['https://10.0.1.2:2380', 'https://10.0.0.2:2380'], dataDir: '/var/lib/etcd', host: 'cp-1' },
];
const restoreInput: EtcdRestorePlanInput = {
  cluster: 'primary',
  runId,
  snapshot: day2Verified,
  members: restoreMembers,
  now: '2026-11-21T03:30:00.000Z',
  revisionBeforeRestore: 45_000,
};
const planned = (input: EtcdRestorePlanInput = restoreInput): EtcdRestorePlan => {
  const plan = planEtcdRestore(input);
  if (!plan.ok) throw new Error(plan.reason);
  return plan;
};

describe('planEtcdRestore', () => {
  it('plans every member from one snapshot with names from the run', () => {
    expect(planned()).toEqual({
      ok: true,
      cluster: 'primary',
      snapshotId: day2Verified.snapshotId,
      unverified: false,
      initialClusterToken: 'primary-restore-7d6c5b4a3921',
      initialCluster: 'etcd-0=https://10.0.0.1:2380,etcd-1=https://10.0.0.2:2380,etcd-1=https://10.0.1.2:2380,etcd-2=https://10.0.0.3:2380',
      revisionBump: 1_000_000_000,
      revisionAfterRestoreAtLeast: 1_000_041_200,
      members: [
        {
          name: 'etcd-0',
          host: 'cp-0',
          peerURLs: ['https://10.0.0.1:2380'],
          dataDir: '/var/lib/etcd',
          movedAsideTo: '/var/lib/etcd.lifeboat-7d6c5b4a3921',
        },
        {
          name: 'etcd-1',
          host: 'cp-1',
          peerURLs: ['https://10.0.0.2:2380', 'https://10.0.1.2:2380'],
          dataDir: '/var/lib/etcd',
          movedAsideTo: '/var/lib/etcd.lifeboat-7d6c5b4a3921',
        },
        {
          name: 'etcd-2',
          host: 'cp-2',
          peerURLs: ['https://10.0.0.3:2380'],
          dataDir: '/var/lib/etcd',
          movedAsideTo: '/var/lib/etcd.lifeboat-7d6c5b4a3921',
        },
      ],
      dataLoss: {
        from: '2026-11-21T02:00:00.000Z',
        until: '2026-11-21T03:30:00.000Z',
        seconds: 5400,
        snapshotRevision: 41_200,
        revisionBeforeRestore: 45_000,
        lostRevisionsAtMost: 3_800,
      },
    });
  });

  it('is idempotent: the same run gives the same names, whatever the member order; another run others', () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(restoreMembers, { minLength: 3 }), (members) => {
        expect(planned({ ...restoreInput, members })).toEqual(planned());
      }),
      { numRuns: 20 },
    );
    const again = planned({ ...restoreInput, runId: otherRunId });
    expect(again.initialClusterToken).toBe('primary-restore-c3d4e5f60718');
    expect(again.members.map((m) => m.movedAsideTo)).not.toContain(planned().members[0]!.movedAsideTo);
  });

  it('flags a forced, uploaded snapshot as unverified', () => {
    expect(planned({ ...restoreInput, snapshot: day3Uploaded }).unverified).toBe(true);
  });

  it('refuses another cluster’s or a failed snapshot even here', () => {
    const foreign = manifest('x', '2026-11-21T02:00:00.000Z', 'verified', { cluster: 'backup' });
    expect(refusalOf(planEtcdRestore({ ...restoreInput, snapshot: foreign })).type).toBe(failureTypes.SnapshotOfAnotherCluster);
    expect(refusalOf(planEtcdRestore({ ...restoreInput, snapshot: day2Failed })).type).toBe(failureTypes.SnapshotFailedVerification);
  });

  it('refuses inputs that would make a name, a flag or the window ambiguous', () => {
    const cases: [Partial<EtcdRestorePlanInput>, string][] = [
      [{ runId: 'run-1' }, `run ID "run-1" is not a UUID: the restore's names derive from it`],
      [{ now: '2026-11-21 03:30' }, 'now "2026-11-21 03:30" is not an ISO-8601 date-time with a zone'],
      [{ revisionBeforeRestore: -1 }, 'revisionBeforeRestore -1 is not a revision'],
      [{ members: [] }, "cluster 'primary' has no etcd members configured to restore"],
      [{ members: [{ ...restoreMembers[0]!, name: 'a=b' }] }, "member name \"a=b\": empty, or has a space, '=' or ','"],
      [{ members: [restoreMembers[0]!, { ...restoreMembers[1]!, name: 'etcd-2' }] }, "two members are named 'etcd-2'"],
      [{ members: [{ ...restoreMembers[0]!, peerURLs: [] }] }, "member 'etcd-2' has no peer URL"],
      [
        { members: [{ ...restoreMembers[0]!, peerURLs: ['10.0.0.3:2380'] }] },
        'member \'etcd-2\': peer URL "10.0.0.3:2380" is not an http(s) URL',
      ],
    ];
    for (const [over, reason] of cases) {
      expect(planEtcdRestore({ ...restoreInput, ...over })).toEqual({ ok: false, type: failureTypes.InvalidEtcdRecoveryRequest, reason });
    }
  });

  it('refuses an unsafe data dir, comparing only members on the same host', () => {
    const lab: RestoreMember[] = [
      { name: 'etcd-0', peerURLs: ['http://127.0.0.1:12380'], dataDir: '/work/lab/etcd' },
      { name: 'etcd-1', peerURLs: ['http://127.0.0.1:22380'], dataDir: '/work/lab/etcd/etcd-1' },
    ];
    expect(planEtcdRestore({ ...restoreInput, members: lab })).toEqual({
      ok: false,
      type: failureTypes.UnsafeEtcdDataDir,
      reason: `member 'etcd-0': data dir "/work/lab/etcd" holds another member's data dir "/work/lab/etcd/etcd-1": moving it would move that too`,
    });
    const sameDir = restoreMembers.map((m) => ({ ...m, host: 'one-host' }));
    expect(refusalOf(planEtcdRestore({ ...restoreInput, members: sameDir })).reason).toBe(
      `member 'etcd-2' on one-host: data dir "/var/lib/etcd" is also another member's data dir on the same host`,
    );
    expect(refusalOf(planEtcdRestore({ ...restoreInput, members: [{ ...restoreMembers[0]!, dataDir: 'etcd-data' }] })).type).toBe(
      failureTypes.UnsafeEtcdDataDir,
    );
  });

  it('writes every etcdutl restore flag, with the revision bump and mark-compacted', () => {
    const plan = planned();
    expect(etcdutlRestoreArgs(plan, plan.members[1]!, '/var/lib/lifeboat/restore/snapshot.db')).toEqual([
      'snapshot',
      'restore',
      '/var/lib/lifeboat/restore/snapshot.db',
      '--name=etcd-1',
      '--data-dir=/var/lib/etcd',
      '--initial-cluster=etcd-0=https://10.0.0.1:2380,etcd-1=https://10.0.0.2:2380,etcd-1=https://10.0.1.2:2380,etcd-2=https://10.0.0.3:2380',
      '--initial-cluster-token=primary-restore-7d6c5b4a3921',
      '--initial-advertise-peer-urls=https://10.0.0.2:2380,https://10.0.1.2:2380',
      '--bump-revision=1000000000',
      '--mark-compacted',
    ]);
  });
});

describe('names from the run', () => {
  it('moves a data dir aside to a sibling named from the run, the same for the same run, whatever the slashes', () => {
    expect(movedAsideDataDir('/var/lib/etcd', runId)).toBe('/var/lib/etcd.lifeboat-7d6c5b4a3921');
    expect(movedAsideDataDir('/var//lib/etcd///', runId)).toBe('/var/lib/etcd.lifeboat-7d6c5b4a3921');
    expect(movedAsideDataDir('/var/lib/etcd', otherRunId)).toBe('/var/lib/etcd.lifeboat-c3d4e5f60718');
    fc.assert(
      fc.property(fc.uuid(), fc.uuid(), (a, b) => {
        expect(movedAsideDataDir('/var/lib/etcd', a)).toBe(movedAsideDataDir('/var/lib/etcd', a));
        expect(restoreClusterToken('primary', a)).toBe(restoreClusterToken('primary', a));
        if (a.replace(/-/g, '').slice(-12) !== b.replace(/-/g, '').slice(-12)) {
          expect(movedAsideDataDir('/var/lib/etcd', a)).not.toBe(movedAsideDataDir('/var/lib/etcd', b));
          expect(restoreClusterToken('primary', a)).not.toBe(restoreClusterToken('primary', b));
        }
      }),
    );
  });

  it('tells apart two runs started in the same millisecond (UUIDv7 share their leading digits)', () => {
    expect(restoreClusterToken('primary', runId)).not.toBe(restoreClusterToken('primary', otherRunId));
    expect(runId.slice(0, 8)).toBe(otherRunId.slice(0, 8));
  });

  it('writes --initial-cluster in one order whatever the input order', () => {
    const members = [
      { name: 'b', peerURLs: ['https://b2:2380', 'https://b1:2380'] },
      { name: 'a', peerURLs: ['https://a:2380'] },
    ];
    expect(initialClusterFlag(members)).toBe('a=https://a:2380,b=https://b1:2380,b=https://b2:2380');
    expect(initialClusterFlag([...members].reverse())).toBe(initialClusterFlag(members));
  });
});

describe('revisions and the data-loss window', () => {
  it('bumps by a billion, or the next multiple above the revisions known to have passed', () => {
    expect(revisionBumpFor(41_200)).toBe(1_000_000_000);
    expect(revisionBumpFor(41_200, 45_000)).toBe(1_000_000_000);
    expect(revisionBumpFor(41_200, 30_000)).toBe(1_000_000_000);
    expect(revisionBumpFor(0, 1_000_000_000)).toBe(2_000_000_000);
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 40 }), fc.nat({ max: 2 ** 40 }), (snapshotRevision, seen) => {
        expect(snapshotRevision + revisionBumpFor(snapshotRevision, seen)).toBeGreaterThan(seen);
        expect(revisionBumpFor(snapshotRevision, seen) % 1_000_000_000).toBe(0);
      }),
    );
  });

  it('knows which etcdutl versions can bump the revision', () => {
    expect(['3.5.10', 'v3.5.21', '3.6.0', '3.6.5-rc.0', '4.0.0'].map(etcdutlSupportsRevisionBump)).toEqual([true, true, true, true, true]);
    expect(['3.5.9', '3.4.30', 'v2.3.8', 'unknown', ''].map(etcdutlSupportsRevisionBump)).toEqual([false, false, false, false, false]);
  });

  it('runs from the snapshot’s start to the given time, with the revisions lost when known', () => {
    expect(dataLossWindow(day2Verified, '2026-11-21T02:00:42.500Z')).toEqual({
      from: '2026-11-21T02:00:00.000Z',
      until: '2026-11-21T02:00:42.500Z',
      seconds: 42.5,
      snapshotRevision: 41_200,
    });
    expect(dataLossWindow(day2Verified, '2026-11-21T01:00:00.000Z', 41_000)).toMatchObject({ seconds: 0, lostRevisionsAtMost: 0 });
  });
});

describe('dataDirMoveRefusal', () => {
  it('allows an absolute data dir that holds no other member’s', () => {
    expect(dataDirMoveRefusal('/var/lib/etcd', [])).toBeUndefined();
    expect(dataDirMoveRefusal('/var/lib/etcd/', ['/var/lib/etcd-2', '/var/lib/etcdx'])).toBeUndefined();
    expect(dataDirMoveRefusal('/work/lab/etcd/etcd-1', ['/work/lab/etcd/etcd-0', '/work/lab/etcd/etcd-2'])).toBeUndefined();
    expect(dataDirMoveRefusal('/etcd-data', [])).toBeUndefined();
  });

  it.each([
    ['var/lib/etcd', [], 'data dir "var/lib/etcd" is not an absolute path'],
    ['', [], 'data dir "" is not an absolute path'],
    ['/', [], 'data dir "/" is the root directory'],
    ['//', [], 'data dir "//" is the root directory'],
    ['/var/lib/../lib/etcd', [], `data dir "/var/lib/../lib/etcd" has a '..' segment: it may name another directory than it reads as`],
    ['/var/lib/etcd/..', [], `data dir "/var/lib/etcd/.." has a '..' segment: it may name another directory than it reads as`],
    ['/var/./lib/etcd', [], `data dir "/var/./lib/etcd" has a '.' segment: write it without`],
    ['/var/lib/etcd\n', [], 'data dir "/var/lib/etcd\\n" has a control character'],
    ['/var/lib/', [], `data dir "/var/lib/" is a system directory, not one etcd's data alone is in`],
    ['/etc', [], `data dir "/etc" is a system directory, not one etcd's data alone is in`],
    [
      '/var/lib/etcd',
      ['/var/lib/etcd/member-2'],
      `data dir "/var/lib/etcd" holds another member's data dir "/var/lib/etcd/member-2": moving it would move that too`,
    ],
    [
      '/work/lab',
      ['/work/lab/etcd/etcd-1/'],
      `data dir "/work/lab" holds another member's data dir "/work/lab/etcd/etcd-1/": moving it would move that too`,
    ],
    ['/var/lib/etcd', ['/var/lib/etcd/'], `data dir "/var/lib/etcd" is also another member's data dir on the same host`],
  ])('refuses %j (others %j)', (dataDir, others, reason) => {
    expect(dataDirMoveRefusal(dataDir, others)).toBe(reason);
  });
});

describe('chooseRestoreSnapshot and signed manifests', () => {
  // Written before manifests were signed: no `mac`.
  const day4Unsigned = manifest('20261123T020000Z-000000000005', '2026-11-23T02:00:00.000Z', 'verified');
  delete day4Unsigned.mac;

  it('passes over an unsigned manifest, however new, and takes it only with allowUnsigned', () => {
    const listing = listed(day1Verified, day2Verified, day4Unsigned);
    expect(chooseRestoreSnapshot(listing, { cluster: 'primary' })).toMatchObject({ ok: true, snapshot: day2Verified });
    expect(chooseRestoreSnapshot(listing, { cluster: 'primary', allowUnsigned: true })).toMatchObject({ ok: true, snapshot: day4Unsigned });
  });

  it('refuses a named unsigned snapshot without allowUnsigned, saying why', () => {
    const r = refusalOf(chooseRestoreSnapshot(listed(day4Unsigned), { cluster: 'primary', snapshotId: day4Unsigned.snapshotId }));
    expect(r.type).toBe(failureTypes.ManifestUnsigned);
    expect(r.reason).toBe(
      "snapshot 20261123T020000Z-000000000005 of cluster 'primary' has an unsigned manifest (written before Lifeboat signed manifests): nothing proves it was not swapped or edited in the bucket. Restore it only if you trust the bucket, with --allow-unsigned",
    );
    const allowed = chooseRestoreSnapshot(listed(day4Unsigned), {
      cluster: 'primary',
      snapshotId: day4Unsigned.snapshotId,
      allowUnsigned: true,
    });
    expect(allowed).toMatchObject({ ok: true, snapshot: day4Unsigned, unverified: false });
  });

  it('with only unsigned snapshots, says they were passed over and how to take them', () => {
    const r = refusalOf(chooseRestoreSnapshot(listed(day4Unsigned), { cluster: 'primary' }));
    expect(r.type).toBe(failureTypes.NoRestorableSnapshot);
    expect(r.reason).toBe(
      "cluster 'primary' has no signed snapshot in the object store; 1 snapshot(s) with unsigned manifests (written before signing) were passed over: --allow-unsigned takes them: nothing to restore from",
    );
  });

  it('refuses the automatic choice when any manifest was refused as tampered, and a named tampered one', () => {
    const reason = 'manifest etcd/primary/20261124T020000Z-000000000006/manifest.json is rolled back: ...';
    const listing = { ...history, tampered: [{ key: 'etcd/primary/20261124T020000Z-000000000006/manifest.json', reason }] };
    const auto = refusalOf(chooseRestoreSnapshot(listing, { cluster: 'primary' }));
    expect(auto.type).toBe(failureTypes.ManifestTampered);
    expect(auto.reason).toBe(
      `1 manifest(s) of cluster 'primary' were tampered with, so the newest snapshot cannot be trusted to be the newest: ${reason}. Find out who wrote the bucket, or name a snapshot with --snapshot`,
    );
    const named = refusalOf(chooseRestoreSnapshot(listing, { cluster: 'primary', snapshotId: '20261124T020000Z-000000000006' }));
    expect(named).toMatchObject({ type: failureTypes.ManifestTampered, reason });
    // Another snapshot, named, is still restorable: the person has looked and chosen it.
    expect(chooseRestoreSnapshot(listing, { cluster: 'primary', snapshotId: day1Verified.snapshotId })).toMatchObject({ ok: true });
  });
});
