// etcd recovery from backup (issue 13): the rules the etcdMemberReplace and etcdRestore workflows, their
// activities and the CLI share. Pure: no I/O and no clock (`now` is an argument), so workflow code may
// import it. Every "no" is a refusal with a failure type from model/failures.ts and a reason a person
// can act on at 3 a.m.: what is wrong, with the numbers, and what to do instead.
//
// Snapshot choice (chooseRestoreSnapshot):
// 1. `snapshotId` and `before` exclude each other; `before` is an ISO-8601 date-time with a zone.
// 2. A named snapshot is restored when its manifest names the cluster and it is `verified`, or
//    `uploaded` with `force` (flagged unverified). A manifest of another cluster and a `failed` snapshot
//    are refused even with `force`: no flag makes them a backup of this cluster.
// 3. Otherwise the newest `verified` snapshot of the cluster (taken before `before` when given), by
//    startedAt then id descending, whatever the listing's order. With `force` and no verified one: the
//    newest `uploaded` one, flagged unverified. An incomplete listing is refused: the newest snapshot
//    could be the one it missed, and an older one loses more data.
// 4. Signed manifests (activities/object-store/manifest-mac.ts): a listing that refused any manifest as
//    tampered (edited, swapped, rolled back) refuses the automatic choice (the newest may be the one
//    tampered with), and a named snapshot whose manifest was refused is refused (ManifestTampered). An
//    unsigned manifest (written before signing) is taken only with `allowUnsigned`: named, it is refused
//    without it (ManifestUnsigned); otherwise the choice passes it over, and says so when nothing else fits.
// "Taken at" is the manifest's startedAt: the snapshot's data point is a few seconds after it (the
// stream starts after the run's first step), so it bounds the lost writes from below, never misses one.
//
// Member replacement (planMemberReplacement): see its TSDoc; learners do not vote and are not counted.
//
// Restore plan (planEtcdRestore): every name derives from the run, so a retried activity finds its own
// earlier work and two restores never collide:
// - each member's data dir is moved aside (renamed, never deleted) to `<dataDir>.lifeboat-<tail>`,
//   where `<dataDir>` has repeated and trailing slashes removed and `<tail>` is the last 12 hex digits
//   of the run ID (runIdTail, as snapshot ids use). A sibling in the same directory is on the same
//   filesystem, so the move is one rename: atomic, instant, and it needs no free space;
// - the new cluster's `--initial-cluster-token` is `<cluster>-restore-<tail>`: members restored by
//   another run (or the old cluster's, were one started by mistake) cannot join it, and every member
//   of this run, retried or not, gets the same one;
// - `--initial-cluster` lists every member's name=peerURL, sorted by name then URL, so each member's
//   restore gets byte-identical text.
import { secondsBetween } from './durations.js';
import { failureTypes, type FailureType } from './failures.js';
import { parseZonedDateTime } from './retention.js';
import { runIdTail, type SnapshotManifest } from './snapshot-layout.js';

/** Why Lifeboat will not go on: the workflow raises `type` (non-retryable unless its TSDoc says so) with `reason`. */
export interface EtcdRecoveryRefusal {
  ok: false;
  type: FailureType;
  reason: string;
}

const refuse = (type: FailureType, reason: string): EtcdRecoveryRefusal => ({ ok: false, type, reason });

const restoreCommand = (cluster: string) => `\`lifeboat etcd restore --cluster ${cluster} --reason TEXT\``;

// ---------------------------------------------------------------------------------------------------
// 1. Which snapshot a restore uses

/** What the object store listed for one cluster; the shape listManifests returns, so an incomplete listing is visible here. */
export interface SnapshotListing {
  /** Every manifest found under the cluster's prefix, in any order. */
  manifests: SnapshotManifest[];
  /** False when a page or a manifest could not be read. */
  complete: boolean;
  /** Why the listing is incomplete. Default: none given. */
  problem?: string;
  /** Manifests the listing refused as tampered, each with its key and why. Default: none. */
  tampered?: { key: string; reason: string }[];
}

/** What the person asked to restore from; the CLI's `--snapshot`, `--before` and `--force`. */
export interface RestoreSnapshotRequest {
  cluster: string;
  /** Restore exactly this snapshot. Default: the newest verified one. */
  snapshotId?: string;
  /** Restore the newest verified snapshot taken strictly before this ISO-8601 time (with a zone). Default: no limit. */
  before?: string;
  /** Allow a snapshot that was uploaded but never verified. Default: false. */
  force?: boolean;
  /** Allow a snapshot whose manifest is unsigned (written before manifests were signed). Default: false. */
  allowUnsigned?: boolean;
}

/** The snapshot a restore will use, and why that one: the plan shows `why` to the approver. */
export interface SnapshotChosen {
  ok: true;
  snapshot: SnapshotManifest;
  /** Nobody has proved this snapshot restores: the plan and report say so in words, not only in a field. */
  unverified: boolean;
  why: string;
}

export type SnapshotChoice = SnapshotChosen | EtcdRecoveryRefusal;

const timeOf = (m: SnapshotManifest) => {
  const t = parseZonedDateTime(m.startedAt);
  return Number.isNaN(t) ? -Infinity : t;
};
const newestFirst = (manifests: SnapshotManifest[]) =>
  [...manifests].sort((a, b) => timeOf(b) - timeOf(a) || (a.snapshotId < b.snapshotId ? 1 : a.snapshotId > b.snapshotId ? -1 : 0));
const described = (m: SnapshotManifest) => `${m.snapshotId} (taken ${m.startedAt})`;

/**
 * Picks the snapshot an etcdRestore restores, before anything is stopped: the wrong snapshot is the
 * one mistake a restore cannot take back. Rules in the module comment.
 */
export function chooseRestoreSnapshot(listing: SnapshotListing, request: RestoreSnapshotRequest): SnapshotChoice {
  const { cluster, snapshotId, before, force = false, allowUnsigned = false } = request;
  if (snapshotId !== undefined && before !== undefined)
    return refuse(
      failureTypes.InvalidEtcdRecoveryRequest,
      `give a snapshot id or a time to restore from before, not both (got snapshot ${snapshotId} and before ${before})`,
    );
  const beforeMs = before === undefined ? Infinity : parseZonedDateTime(before);
  if (Number.isNaN(beforeMs))
    return refuse(
      failureTypes.InvalidEtcdRecoveryRequest,
      `before ${JSON.stringify(before)}: expected an ISO-8601 date-time with a zone, such as 2026-11-21T10:00:00Z`,
    );
  const incomplete = `the listing of the snapshots of cluster '${cluster}' is incomplete (${listing.problem ?? 'no problem given'})`;
  const tampered = listing.tampered ?? [];
  const unsignedRefusal = (m: SnapshotManifest) =>
    refuse(
      failureTypes.ManifestUnsigned,
      `snapshot ${m.snapshotId} of cluster '${cluster}' has an unsigned manifest (written before Lifeboat signed manifests): nothing proves it was not swapped or edited in the bucket. Restore it only if you trust the bucket, with --allow-unsigned`,
    );
  const usable = (m: SnapshotManifest) => allowUnsigned || m.mac !== undefined;
  const ours = newestFirst(listing.manifests.filter((m) => m.cluster === cluster && usable(m)));
  const unsignedOfOurs = listing.manifests.filter((m) => m.cluster === cluster && !usable(m)).length;
  const newestVerified = ours.find((m) => m.status === 'verified');
  const otherwise = newestVerified ? `the newest verified one is ${described(newestVerified)}` : 'none is verified';

  if (snapshotId !== undefined) {
    const refused = tampered.find((t) => t.key.split('/').at(-2) === snapshotId);
    if (refused) return refuse(failureTypes.ManifestTampered, refused.reason);
    const m = listing.manifests.find((s) => s.snapshotId === snapshotId);
    if (!m && !listing.complete)
      return refuse(failureTypes.SnapshotListingIncomplete, `snapshot ${snapshotId} is not in the listing, but ${incomplete}: try again`);
    if (!m)
      return refuse(
        failureTypes.SnapshotNotFound,
        `cluster '${cluster}' has no snapshot ${snapshotId} (${ours.length} listed; ${otherwise}); see \`lifeboat snapshots list --cluster ${cluster}\``,
      );
    if (m.cluster !== cluster)
      return refuse(
        failureTypes.SnapshotOfAnotherCluster,
        `snapshot ${snapshotId} is listed for cluster '${cluster}' but its manifest names cluster '${m.cluster}': restoring it would replace the data of '${cluster}' with another cluster's, so it is refused even with force; find out how the manifest got there`,
      );
    if (!usable(m)) return unsignedRefusal(m);
    if (m.status === 'verified') return { ok: true, snapshot: m, unverified: false, why: `snapshot ${described(m)}, as asked` };
    if (m.status === 'uploaded' && force)
      return {
        ok: true,
        snapshot: m,
        unverified: true,
        why: `snapshot ${described(m)}, as asked; never verified, restored because of force`,
      };
    if (m.status === 'uploaded')
      return refuse(
        failureTypes.SnapshotNotVerified,
        `snapshot ${snapshotId} of cluster '${cluster}' was never verified: prove it restores with \`lifeboat verify etcd --cluster ${cluster} --snapshot ${snapshotId}\`, or restore it unverified with --force (${otherwise})`,
      );
    const result = m.verification?.result ? `: ${m.verification.result.replace(/^failed: /, '')}` : '';
    return refuse(
      failureTypes.SnapshotFailedVerification,
      `snapshot ${snapshotId} of cluster '${cluster}' failed its restore verification${result}; it is not a good backup and is refused even with force (${otherwise})`,
    );
  }

  if (!listing.complete)
    return refuse(
      failureTypes.SnapshotListingIncomplete,
      `${incomplete}: the newest verified snapshot may be the one it missed; try again, or name a snapshot`,
    );
  if (tampered.length)
    return refuse(
      failureTypes.ManifestTampered,
      `${tampered.length} manifest(s) of cluster '${cluster}' were tampered with, so the newest snapshot cannot be trusted to be the newest: ${tampered
        .map((t) => t.reason)
        .join('; ')}. Find out who wrote the bucket, or name a snapshot with --snapshot`,
    );
  const limit = before === undefined ? '' : ` taken before ${before}`;
  // NaN < before is false: a snapshot whose time is unreadable is never taken for one before a time.
  const eligible = before === undefined ? ours : ours.filter((m) => parseZonedDateTime(m.startedAt) < beforeMs);
  const verified = eligible.find((m) => m.status === 'verified');
  if (verified)
    return { ok: true, snapshot: verified, unverified: false, why: `the newest verified snapshot${limit}: ${described(verified)}` };
  const uploaded = eligible.find((m) => m.status === 'uploaded');
  if (uploaded && force)
    return {
      ok: true,
      snapshot: uploaded,
      unverified: true,
      why: `the newest uploaded snapshot${limit}: ${described(uploaded)}; no verified one${limit}, restored unverified because of force`,
    };

  const unsignedHint = unsignedOfOurs
    ? `; ${unsignedOfOurs} snapshot(s) with unsigned manifests (written before signing) were passed over: --allow-unsigned takes them`
    : '';
  if (ours.length === 0) {
    const others = listing.manifests.filter((m) => m.cluster !== cluster).length;
    const foreign = others > 0 ? ` (${others} manifests under its prefix name other clusters)` : '';
    return refuse(
      failureTypes.NoRestorableSnapshot,
      `cluster '${cluster}' has no ${unsignedOfOurs ? 'signed ' : ''}snapshot in the object store${foreign}${unsignedHint}: nothing to restore from`,
    );
  }
  const allVerified = ours.filter((m) => m.status === 'verified');
  const oldestVerified = allVerified[allVerified.length - 1];
  const why =
    newestVerified && oldestVerified
      ? `no verified snapshot of cluster '${cluster}' was taken before ${before}: the oldest verified one is ${described(oldestVerified)}, the newest ${described(newestVerified)}; give a later time, or name a snapshot`
      : `cluster '${cluster}' has no verified snapshot${limit} (${count(eligible, 'uploaded')} uploaded, ${count(eligible, 'failed')} failed)`;
  const unverifiedHint = uploaded
    ? `; the newest unverified one${limit} is ${described(uploaded)}: verify it with \`lifeboat verify etcd --cluster ${cluster} --snapshot ${uploaded.snapshotId}\`, or restore it unverified with --force`
    : force
      ? `, and none uploaded${limit} to force`
      : '';
  return refuse(failureTypes.NoRestorableSnapshot, `${why}${unverifiedHint}${unsignedHint}`);
}

const count = (manifests: SnapshotManifest[], status: SnapshotManifest['status']) => manifests.filter((m) => m.status === status).length;

// ---------------------------------------------------------------------------------------------------
// 2. Quorum, and whether a member may be replaced

/**
 * Voting members that must be healthy for the cluster to commit anything, a membership change included:
 * raft commits an entry once a majority of voters has it. `quorum(0)` is 1: no members, no quorum.
 */
export const quorum = (voters: number) => Math.floor(voters / 2) + 1;

/** One member as `etcdctl member list` and a health check see it; the activity judges `healthy`. */
export interface EtcdMember {
  /** Empty for a member that was added but has never started (etcd learns the name when it starts). */
  name: string;
  /** etcd's member id, hex as etcdctl prints it. */
  id: string;
  peerURLs: string[];
  /** Answers and is in sync with the leader. */
  healthy: boolean;
  /** Default: false. */
  isLeader?: boolean;
  /** A non-voting member catching up: not counted for quorum. Default: false. */
  isLearner?: boolean;
}

/** The member to replace (by name, or by id when no name matches) and the cluster's member list, read just before. */
export interface MemberReplacementRequest {
  cluster: string;
  member: string;
  members: EtcdMember[];
}

/** What etcdMemberReplace will do, with the quorum arithmetic the approver checks it against. */
export interface MemberReplacementPlan {
  ok: true;
  cluster: string;
  member: EtcdMember;
  /** Voting members, healthy ones and quorum now. */
  voters: number;
  healthyVoters: number;
  quorum: number;
  /** The same once the member is removed (unchanged when it is a learner). */
  votersAfterRemoval: number;
  healthyAfterRemoval: number;
  quorumAfterRemoval: number;
  /** How many more members may fail while the replacement runs before quorum is lost: 0 means none. */
  faultToleranceDuringReplacement: number;
  /**
   * The replacement joins as a learner and is promoted once it has caught up: a voter with no data
   * would raise quorum at once (for an even cluster size, past the healthy members) while adding no vote.
   * Always true; a field so the plan says it.
   */
  addAsLearner: true;
  /** Set when the member leads: leadership is moved here first (`etcdctl move-leader`), so writes do not wait for an election. */
  moveLeaderTo?: { name: string; id: string };
  /** `--initial-cluster` for the replacement, which starts with `--initial-cluster-state=existing`. */
  initialCluster: string;
  /** What the approver should know, in sentences. */
  notes: string[];
}

export type MemberReplacementDecision = MemberReplacementPlan | EtcdRecoveryRefusal;

const memberLabel = (m: EtcdMember) => (m.name ? `${m.name} (${m.id})` : `unstarted member ${m.id} (${m.peerURLs.join(', ')})`);
const names = (members: EtcdMember[]) => members.map((m) => m.name || m.id).join(', ');

/**
 * Decides whether etcdMemberReplace may replace one member, i.e. `member remove` it and add a fresh one
 * in its place. Allowed exactly when quorum holds now (healthy voters ≥ quorum(voters); a membership
 * change must itself be committed) and still holds once the member is gone (healthy voters left ≥
 * quorum(voters − 1)). When quorum is lost only etcdRestore helps; when only the removal would lose it,
 * the other unhealthy members are replaced first. The leader may be replaced: leadership moves first.
 */
export function planMemberReplacement(request: MemberReplacementRequest): MemberReplacementDecision {
  const { cluster, members } = request;
  const named = members.filter((m) => m.name !== '');
  const duplicate = named.find((m, i) => named.findIndex((o) => o.name === m.name) !== i);
  if (duplicate)
    return refuse(
      failureTypes.EtcdMembershipUnclear,
      `two etcd members of cluster '${cluster}' are named '${duplicate.name}' (${members
        .filter((m) => m.name === duplicate.name)
        .map((m) => m.id)
        .join(', ')}): say which one by id`,
    );
  const member =
    members.find((m) => m.name !== '' && m.name === request.member) ??
    members.find((m) => m.id.toLowerCase() === request.member.toLowerCase());
  if (!member)
    return refuse(
      failureTypes.UnknownEtcdMember,
      members.length === 0
        ? `etcd of cluster '${cluster}' listed no members, so it has no member '${request.member}'`
        : `etcd of cluster '${cluster}' has no member '${request.member}'; its members: ${members.map(memberLabel).join(', ')}`,
    );

  const voters = members.filter((m) => !m.isLearner);
  const healthy = voters.filter((m) => m.healthy);
  const need = quorum(voters.length);
  if (healthy.length < need)
    return refuse(
      failureTypes.EtcdQuorumLost,
      `etcd of cluster '${cluster}' has lost quorum: ${healthy.length} of ${voters.length} voting members healthy${healthy.length ? ` (${names(healthy)})` : ''}, ${need} needed. Removing or adding a member needs quorum, so none can be replaced: restore the cluster from a snapshot with etcdRestore, ${restoreCommand(cluster)}`,
    );

  const removesVote = !member.isLearner;
  const votersAfter = voters.length - (removesVote ? 1 : 0);
  const healthyAfter = healthy.length - (removesVote && member.healthy ? 1 : 0);
  const needAfter = quorum(votersAfter);
  if (votersAfter === 0)
    return refuse(
      failureTypes.EtcdReplacementWouldLoseQuorum,
      `'${member.name}' is the only voting etcd member of cluster '${cluster}': removing it leaves no cluster to add a new member to. Restore it from a snapshot with etcdRestore, ${restoreCommand(cluster)}`,
    );
  if (healthyAfter < needAfter) {
    const unhealthyOthers = voters.filter((m) => !m.healthy && m !== member);
    return refuse(
      failureTypes.EtcdReplacementWouldLoseQuorum,
      `replacing '${member.name}' would lose the quorum of etcd in cluster '${cluster}': it is healthy, so removing it leaves ${votersAfter} voting members of which ${healthyAfter} healthy (${names(healthy.filter((m) => m !== member)) || 'none'}), and ${needAfter} are needed. Replace the unhealthy member${unhealthyOthers.length > 1 ? 's' : ''} first (${names(unhealthyOthers)}); if that cannot be done, restore the cluster from a snapshot with etcdRestore, ${restoreCommand(cluster)}`,
    );
  }

  if (member.name === '' || member.peerURLs.length === 0)
    return refuse(
      failureTypes.EtcdMembershipUnclear,
      `member ${member.id} of cluster '${cluster}' was added but never started, so there is nothing to replace: remove it (\`etcdctl member remove ${member.id}\`) and replace the member it was meant to be by name`,
    );
  const unstarted = members.find((m) => m !== member && m.name === '');
  if (unstarted)
    return refuse(
      failureTypes.EtcdMembershipUnclear,
      `${memberLabel(unstarted)} of cluster '${cluster}' was added but never started, so the replacement's --initial-cluster cannot name it: start it, or remove it (\`etcdctl member remove ${unstarted.id}\`), then try again`,
    );

  const tolerance = removesVote ? healthyAfter - needAfter : healthy.length - need;
  const moveLeaderTo = member.isLeader ? [...healthy].filter((m) => m !== member).sort(byName)[0] : undefined;
  const notes: string[] = [];
  if (member.isLearner) notes.push(`'${member.name}' is a learner: it has no vote, so removing it does not change quorum.`);
  if (moveLeaderTo)
    notes.push(
      `'${member.name}' is the leader: leadership moves to '${moveLeaderTo.name}' first, so writes pause for one leadership transfer, not an election.`,
    );
  if (tolerance === 0)
    notes.push(
      `While '${member.name}' is replaced the cluster tolerates no other failure: all ${healthyAfter} remaining healthy voting members are needed for quorum.`,
    );
  notes.push(`The replacement joins as a learner and is promoted to a voting member once it has caught up with the leader.`);
  return {
    ok: true,
    cluster,
    member,
    voters: voters.length,
    healthyVoters: healthy.length,
    quorum: need,
    votersAfterRemoval: votersAfter,
    healthyAfterRemoval: healthyAfter,
    quorumAfterRemoval: needAfter,
    faultToleranceDuringReplacement: tolerance,
    addAsLearner: true,
    ...(moveLeaderTo ? { moveLeaderTo: { name: moveLeaderTo.name, id: moveLeaderTo.id } } : {}),
    initialCluster: initialClusterFlag(members),
    notes,
  };
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

// ---------------------------------------------------------------------------------------------------
// 3. The restore plan's names and numbers

/**
 * `--bump-revision` for `etcdutl snapshot restore`: without it the restored cluster's revision goes
 * back to the snapshot's, and kube-apiserver's watch cache and every informer, which hold newer
 * resourceVersions, would see revisions reused for other data and miss changes. 1 000 000 000 is what
 * etcd's recovery guide recommends: more writes than any cluster makes between a snapshot and a
 * restore. When more revisions than that are known to have passed, the next multiple above them.
 */
export function revisionBumpFor(snapshotRevision: number, revisionBeforeRestore?: number): number {
  const step = 1_000_000_000;
  const passed = revisionBeforeRestore === undefined ? 0 : Math.max(0, revisionBeforeRestore - snapshotRevision);
  return step * (Math.floor(passed / step) + 1);
}

/**
 * Whether an etcdutl of this version has `--bump-revision` and `--mark-compacted` (3.5.10 and later):
 * preflight refuses an older one rather than restore with revisions going backwards.
 */
export function etcdutlSupportsRevisionBump(version: string): boolean {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  if (!match) return false;
  const [major, minor, patch] = match.slice(1).map(Number) as [number, number, number];
  return major > 3 || (major === 3 && (minor > 5 || (minor === 5 && patch >= 10)));
}

/** The writes a restore throws away: shown in the plan before approval and in the report (as the RPO). */
export interface DataLossWindow {
  /** When the snapshot was taken (its manifest's startedAt): writes after it are lost. */
  from: string;
  /** Until when: the plan's `now`; the report recomputes it at the moment the kube-apiservers stopped. */
  until: string;
  seconds: number;
  /** The snapshot's revision (etcd's, when the stream started): the restored data is at least this new. */
  snapshotRevision: number;
  /** The highest revision any member reported before the restore, when one answered. Default: unknown. */
  revisionBeforeRestore?: number;
  /** revisionBeforeRestore − snapshotRevision: at most this many writes are lost. Unknown without revisionBeforeRestore. */
  lostRevisionsAtMost?: number;
}

/** The data-loss window of restoring `snapshot` at `until`, as far as it can be known. */
export function dataLossWindow(snapshot: SnapshotManifest, until: string, revisionBeforeRestore?: number): DataLossWindow {
  const snapshotRevision = snapshot.etcd.revisionAtStart;
  return {
    from: snapshot.startedAt,
    until,
    seconds: secondsBetween(snapshot.startedAt, until),
    snapshotRevision,
    ...(revisionBeforeRestore === undefined
      ? {}
      : { revisionBeforeRestore, lostRevisionsAtMost: Math.max(0, revisionBeforeRestore - snapshotRevision) }),
  };
}

const runTailPattern = /^[0-9a-f]{12}$/i;

/**
 * Where a member's data dir is moved aside by this run (module comment): the same run always gets the
 * same path, so a retried move finds its own earlier move instead of making a second one.
 */
export const movedAsideDataDir = (dataDir: string, runId: string) => `${normalizeDataDir(dataDir)}.lifeboat-${runIdTail(runId)}`;

/** The restored cluster's `--initial-cluster-token` (module comment): one per run, the same for each of its members. */
export const restoreClusterToken = (cluster: string, runId: string) => `${cluster}-restore-${runIdTail(runId)}`;

/**
 * `--initial-cluster` (`name=peerURL,…`, a name repeated for each of its URLs), sorted by name then URL:
 * every member of a new cluster must be given the same text, whatever order its members were read in.
 */
export function initialClusterFlag(members: readonly { name: string; peerURLs: readonly string[] }[]): string {
  return [...members]
    .sort(byName)
    .flatMap((m) => [...m.peerURLs].sort().map((url) => `${m.name}=${url}`))
    .join(',');
}

/** One member of the cluster to restore, from the control-plane driver's configuration. */
export interface RestoreMember {
  name: string;
  peerURLs: string[];
  /** Absolute path of its data dir on its host. */
  dataDir: string;
  /** The host it runs on; members with the same host (or none) share a filesystem. Default: the worker's own. */
  host?: string;
}

/** What planEtcdRestore needs; `snapshot` is the one chooseRestoreSnapshot chose. */
export interface EtcdRestorePlanInput {
  cluster: string;
  /** The etcdRestore run's ID: what its names derive from. */
  runId: string;
  snapshot: SnapshotManifest;
  members: RestoreMember[];
  /** The plan's time (ISO, with a zone): the end of the data-loss window as the approver sees it. */
  now: string;
  /** The highest revision any member reported before the restore. Default: unknown (no member answered). */
  revisionBeforeRestore?: number;
}

/** One member's part of the plan. */
export interface PlannedMemberRestore {
  name: string;
  host?: string;
  /** Sorted. */
  peerURLs: string[];
  /** Without repeated or trailing slashes: where the restored data goes. */
  dataDir: string;
  /** Where the old data dir goes, and stays until the configured age: the rollback, and the evidence. */
  movedAsideTo: string;
}

/** The pure part of an etcdRestore plan: what the approver reads and every activity follows. */
export interface EtcdRestorePlan {
  ok: true;
  cluster: string;
  snapshotId: string;
  /** True for an `uploaded` snapshot restored because of force. */
  unverified: boolean;
  initialClusterToken: string;
  initialCluster: string;
  /** `--bump-revision` (revisionBumpFor), always with `--mark-compacted`, so watches from before the restore must re-list. */
  revisionBump: number;
  /** The restored cluster's revision is at least this: every resourceVersion seen before the restore is below it. */
  revisionAfterRestoreAtLeast: number;
  /** Sorted by name. */
  members: PlannedMemberRestore[];
  dataLoss: DataLossWindow;
}

export type EtcdRestorePlanDecision = EtcdRestorePlan | EtcdRecoveryRefusal;

const memberNamePattern = /^[^\s=,]+$/;
const peerUrlPattern = /^https?:\/\/[^\s=,/]+(\/[^\s=,]*)?$/;

/** Plans the restore of every member from one snapshot, refusing anything that would make a name, a flag or a move ambiguous. */
export function planEtcdRestore(input: EtcdRestorePlanInput): EtcdRestorePlanDecision {
  const { cluster, runId, snapshot, members, now, revisionBeforeRestore } = input;
  const invalid = (reason: string) => refuse(failureTypes.InvalidEtcdRecoveryRequest, reason);
  if (snapshot.cluster !== cluster)
    return refuse(
      failureTypes.SnapshotOfAnotherCluster,
      `snapshot ${snapshot.snapshotId} is of cluster '${snapshot.cluster}', not '${cluster}'`,
    );
  if (snapshot.status !== 'verified' && snapshot.status !== 'uploaded')
    return refuse(failureTypes.SnapshotFailedVerification, `snapshot ${snapshot.snapshotId} is ${snapshot.status}, not a good backup`);
  if (!runTailPattern.test(runIdTail(runId)))
    return invalid(`run ID ${JSON.stringify(runId)} is not a UUID: the restore's names derive from it`);
  if (Number.isNaN(parseZonedDateTime(now))) return invalid(`now ${JSON.stringify(now)} is not an ISO-8601 date-time with a zone`);
  if (revisionBeforeRestore !== undefined && !(Number.isSafeInteger(revisionBeforeRestore) && revisionBeforeRestore >= 0))
    return invalid(`revisionBeforeRestore ${revisionBeforeRestore} is not a revision`);
  if (members.length === 0) return invalid(`cluster '${cluster}' has no etcd members configured to restore`);
  for (const m of members) {
    if (!memberNamePattern.test(m.name)) return invalid(`member name ${JSON.stringify(m.name)}: empty, or has a space, '=' or ','`);
    if (members.filter((o) => o.name === m.name).length > 1) return invalid(`two members are named '${m.name}'`);
    if (m.peerURLs.length === 0) return invalid(`member '${m.name}' has no peer URL`);
    const badUrl = m.peerURLs.find((u) => !peerUrlPattern.test(u));
    if (badUrl !== undefined) return invalid(`member '${m.name}': peer URL ${JSON.stringify(badUrl)} is not an http(s) URL`);
    const sameHost = members.filter((o) => o !== m && o.host === m.host).map((o) => o.dataDir);
    const unsafe = dataDirMoveRefusal(m.dataDir, sameHost);
    if (unsafe) return refuse(failureTypes.UnsafeEtcdDataDir, `member '${m.name}'${m.host ? ` on ${m.host}` : ''}: ${unsafe}`);
  }

  const revisionBump = revisionBumpFor(snapshot.etcd.revisionAtStart, revisionBeforeRestore);
  return {
    ok: true,
    cluster,
    snapshotId: snapshot.snapshotId,
    unverified: snapshot.status !== 'verified',
    initialClusterToken: restoreClusterToken(cluster, runId),
    initialCluster: initialClusterFlag(members),
    revisionBump,
    revisionAfterRestoreAtLeast: snapshot.etcd.revisionAtStart + revisionBump,
    members: [...members].sort(byName).map((m) => ({
      name: m.name,
      ...(m.host === undefined ? {} : { host: m.host }),
      peerURLs: [...m.peerURLs].sort(),
      dataDir: normalizeDataDir(m.dataDir),
      movedAsideTo: movedAsideDataDir(m.dataDir, runId),
    })),
    dataLoss: dataLossWindow(snapshot, now, revisionBeforeRestore),
  };
}

/**
 * `etcdutl snapshot restore` arguments for one member: the one place the restore's flags are written,
 * so the lab driver, the SSH driver and the benchmark's hand-run script restore alike.
 */
export function etcdutlRestoreArgs(plan: EtcdRestorePlan, member: PlannedMemberRestore, snapshotFile: string): string[] {
  return [
    'snapshot',
    'restore',
    snapshotFile,
    `--name=${member.name}`,
    `--data-dir=${member.dataDir}`,
    `--initial-cluster=${plan.initialCluster}`,
    `--initial-cluster-token=${plan.initialClusterToken}`,
    `--initial-advertise-peer-urls=${member.peerURLs.join(',')}`,
    `--bump-revision=${plan.revisionBump}`,
    '--mark-compacted',
  ];
}

// ---------------------------------------------------------------------------------------------------
// 4. Whether a data dir may be moved

/** Directories that hold far more than etcd's data: a data dir configured as one of these is a mistake, not a layout. */
const systemDirs = new Set([
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/home',
  '/lib',
  '/lib64',
  '/media',
  '/mnt',
  '/opt',
  '/proc',
  '/root',
  '/run',
  '/sbin',
  '/srv',
  '/sys',
  '/tmp',
  '/usr',
  '/usr/local',
  '/var',
  '/var/lib',
  '/etc/kubernetes',
]);

const normalizeDataDir = (dataDir: string) => dataDir.replace(/\/{2,}/g, '/').replace(/(.)\/+$/, '$1');

/**
 * Why a data dir must not be moved aside, or undefined when it may: a rename of the wrong directory
 * (a parent holding another member's data, a system directory) is the one way moving aside could lose
 * data. `sameHostDataDirs` are the other members' data dirs on the same host.
 */
export function dataDirMoveRefusal(dataDir: string, sameHostDataDirs: readonly string[]): string | undefined {
  const shown = JSON.stringify(dataDir);
  if (!dataDir.startsWith('/')) return `data dir ${shown} is not an absolute path`;
  if ([...dataDir].some((c) => c.charCodeAt(0) < 0x20)) return `data dir ${shown} has a control character`;
  const segments = dataDir.split('/');
  if (segments.includes('..')) return `data dir ${shown} has a '..' segment: it may name another directory than it reads as`;
  if (segments.includes('.')) return `data dir ${shown} has a '.' segment: write it without`;
  const dir = normalizeDataDir(dataDir);
  if (dir === '/') return `data dir ${shown} is the root directory`;
  if (systemDirs.has(dir)) return `data dir ${shown} is a system directory, not one etcd's data alone is in`;
  for (const other of sameHostDataDirs) {
    const o = normalizeDataDir(other);
    if (o === dir) return `data dir ${shown} is also another member's data dir on the same host`;
    if (o.startsWith(`${dir}/`))
      return `data dir ${shown} holds another member's data dir ${JSON.stringify(other)}: moving it would move that too`;
  }
  return undefined;
}
