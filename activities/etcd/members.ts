// etcd's membership, through etcdctl as its operators use it: the member list with each member's health,
// the replacement's plan (model/etcd-recovery.ts planMemberReplacement), and the membership changes a
// member replacement makes: remove the lost member, add its replacement as a learner, promote it once
// it has caught up. Each change is idempotent: it reads the member list first and does only what is
// still to do, so a retry after a lost worker never removes or adds twice.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ActivityDeps } from '../deps.js';
import { failureTypes } from '../../model/failures.js';
import {
  initialClusterFlag,
  planMemberReplacement,
  quorum,
  type EtcdMember,
  type MemberReplacementPlan,
} from '../../model/etcd-recovery.js';
import { deadlineMsOf, type DeadlineInput } from '../deadline.js';
import { answeredStatuses, etcdEndpointAnswers, etcdctl, etcdctlError, followsLeader, parseEtcdJson } from './health.js';

interface EtcdctlMember {
  ID: string | number;
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
  isLearner?: boolean;
}

/** etcd's member ids as etcdctl's table and its commands take them: hex. */
const hexId = (id: string | number) => BigInt(String(id)).toString(16);

export interface EtcdMemberListed extends EtcdMember {
  clientURLs: string[];
}

/** Runs etcdctl, turning a failure into an Error naming what etcdctl said. */
async function run(deps: Pick<ActivityDeps, 'clusters' | 'tools'>, cluster: string, args: string[]): Promise<string> {
  try {
    return (await etcdctl(deps, cluster, args)).stdout;
  } catch (err) {
    throw new Error(`etcdctl ${args.slice(0, 2).join(' ')} on cluster '${cluster}': ${etcdctlError(err)}`);
  }
}

/** The member list, each member healthy when its client URL answered with a leader. */
export async function listEtcdMembers(deps: Pick<ActivityDeps, 'clusters' | 'tools'>, cluster: string): Promise<EtcdMemberListed[]> {
  const [listed, answers] = await Promise.all([run(deps, cluster, ['member', 'list', '-w', 'json']), etcdEndpointAnswers(deps, cluster)]);
  const members = ((parseEtcdJson(listed) as { members?: EtcdctlMember[] }).members ?? []).map((m) => ({
    id: hexId(m.ID),
    name: m.name ?? '',
    peerURLs: m.peerURLs ?? [],
    clientURLs: m.clientURLs ?? [],
    isLearner: m.isLearner === true,
  }));
  const statusById = new Map(answeredStatuses(answers).map((s) => [hexId(s.memberId), s] as const));
  return members.map((m) => {
    const s = statusById.get(m.id);
    return { ...m, healthy: followsLeader(s), isLeader: s?.isLeader === true };
  });
}

export const createEtcdMemberActivities = (deps: Pick<ActivityDeps, 'clusters' | 'tools'>) => ({
  /**
   * The plan of replacing `member` (by name, or id): the member list now, the quorum arithmetic, and
   * refusal (EtcdQuorumLost, EtcdReplacementWouldLoseQuorum, UnknownEtcdMember, ...) before anything
   * changes. Read-only.
   */
  async planEtcdMemberReplacement({ cluster, member }: { cluster: string; member: string }): Promise<MemberReplacementPlan> {
    let members: EtcdMemberListed[];
    try {
      members = await listEtcdMembers(deps, cluster);
    } catch (err) {
      // etcd 3.5 answers the member list only with a quorum: when it cannot, the endpoints say whether that is why.
      const answers = await etcdEndpointAnswers(deps, cluster);
      const led = answeredStatuses(answers).filter(followsLeader).length;
      const needed = quorum(answers.length);
      if (led < needed)
        throw ApplicationFailure.nonRetryable(
          `etcd of '${cluster}' has lost its quorum: ${led} of ${answers.length} configured members answer with a leader, ${needed} are needed (${answers
            .map((a) => `${a.endpoint}: ${'error' in a ? a.error : followsLeader(a.status) ? 'ok' : 'no leader'}`)
            .join(
              '; ',
            )}). No member can be removed or added now; restore the cluster from a snapshot: \`lifeboat etcd restore --cluster ${cluster} --reason TEXT\``,
          failureTypes.EtcdQuorumLost,
        );
      throw err;
    }
    const decision = planMemberReplacement({ cluster, member, members });
    if (!decision.ok) throw ApplicationFailure.nonRetryable(decision.reason, decision.type);
    return decision;
  },

  /** Removes the member of that id; `removed: false` when the list no longer has it (an earlier attempt removed it). */
  async removeEtcdMember({ cluster, memberId }: { cluster: string; memberId: string }): Promise<{ memberId: string; removed: boolean }> {
    const members = await listEtcdMembers(deps, cluster);
    if (!members.some((m) => m.id === memberId)) return { memberId, removed: false };
    try {
      await etcdctl(deps, cluster, ['member', 'remove', memberId]);
    } catch (err) {
      const said = etcdctlError(err);
      if (/member not found/i.test(said)) return { memberId, removed: false };
      if (/re-configuration failed due to not enough started members|unhealthy/i.test(said))
        throw ApplicationFailure.nonRetryable(
          `etcd refused to remove member ${memberId} of '${cluster}': ${said}`,
          failureTypes.EtcdMembershipChangeRefused,
        );
      throw new Error(`removing etcd member ${memberId} of '${cluster}': ${said}`);
    }
    return { memberId, removed: true };
  },

  /**
   * Adds `name` at `peerUrl` as a learner, or finds the learner (or the unstarted member) an earlier
   * attempt added at that peer URL. Returns its id and the `--initial-cluster` it starts with. A voting
   * member still at that peer URL is EtcdMembershipChangeRefused: the lost member was not removed.
   */
  async addEtcdLearner({
    cluster,
    name,
    peerUrl,
  }: {
    cluster: string;
    name: string;
    peerUrl: string;
  }): Promise<{ memberId: string; added: boolean; initialCluster: string }> {
    const flag = (members: { name: string; peerURLs: string[]; id: string }[], id: string) =>
      initialClusterFlag(members.map((m) => ({ name: m.id === id ? name : m.name, peerURLs: m.peerURLs })));
    const before = await listEtcdMembers(deps, cluster);
    const there = before.find((m) => m.peerURLs.includes(peerUrl));
    if (there) {
      if (!there.isLearner && there.name)
        throw ApplicationFailure.nonRetryable(
          `etcd member ${there.name} (${there.id}) of '${cluster}' is still a voting member at ${peerUrl}: remove it before adding its replacement`,
          failureTypes.EtcdMembershipChangeRefused,
        );
      return { memberId: there.id, added: false, initialCluster: flag(before, there.id) };
    }
    try {
      await etcdctl(deps, cluster, ['member', 'add', name, `--peer-urls=${peerUrl}`, '--learner']);
    } catch (err) {
      throw new Error(`adding etcd learner ${name} at ${peerUrl} to '${cluster}': ${etcdctlError(err)}`);
    }
    const after = await listEtcdMembers(deps, cluster);
    const added = after.find((m) => m.peerURLs.includes(peerUrl));
    if (!added) throw new Error(`etcd of '${cluster}' accepted learner ${name} at ${peerUrl} but its member list does not show it`);
    return { memberId: added.id, added: true, initialCluster: flag(after, added.id) };
  },

  /**
   * Moves the leadership off `memberId` before it is stopped, to the healthy voting member with the
   * highest revision (etcdctl move-leader, sent to the leader itself): stopping a running leader costs
   * the cluster an election (seconds with no writes); a planned hand-over costs one heartbeat. Done when
   * the member does not lead (a dead member never does), or no other member can take over (stopping it
   * then forces the election anyway).
   */
  async moveEtcdLeaderOff({
    cluster,
    memberId,
  }: {
    cluster: string;
    memberId: string;
  }): Promise<{ moved: boolean; leader?: string; detail: string }> {
    const members = await listEtcdMembers(deps, cluster);
    const me = members.find((m) => m.id === memberId);
    if (!me?.isLeader) return { moved: false, detail: `member ${memberId} does not lead; nothing to move` };
    const answers = answeredStatuses(await etcdEndpointAnswers(deps, cluster));
    const revisionOf = (m: EtcdMemberListed) => answers.find((a) => hexId(a.memberId) === m.id)?.revision ?? 0;
    const to = members.filter((m) => m.id !== memberId && m.healthy && !m.isLearner).sort((a, b) => revisionOf(b) - revisionOf(a))[0];
    if (!to) return { moved: false, detail: `member ${memberId} leads and no other healthy voting member can take over` };
    try {
      await etcdctl(deps, cluster, ['move-leader', to.id], undefined, me.clientURLs);
    } catch (err) {
      const said = etcdctlError(err);
      // Another election moved it meanwhile: what was asked holds.
      const now = (await listEtcdMembers(deps, cluster)).find((m) => m.isLeader);
      if (now && now.id !== memberId)
        return { moved: false, leader: now.name || now.id, detail: `leadership already moved to ${now.name || now.id}` };
      throw new Error(`moving the etcd leadership of '${cluster}' from ${me.name || memberId} to ${to.name || to.id}: ${said}`);
    }
    return { moved: true, leader: to.name || to.id, detail: `leadership moved from ${me.name || memberId} to ${to.name || to.id}` };
  },

  /**
   * Promotes the learner to a voting member as soon as etcd allows it (etcd refuses until the learner
   * is in sync with the leader), trying every second and heartbeating; done when it already votes.
   * EtcdLearnerNotCaughtUp at the deadline. Then waits until every member answers with a leader.
   */
  async promoteEtcdLearner({
    cluster,
    memberId,
    ...until
  }: { cluster: string; memberId: string } & DeadlineInput): Promise<{ memberId: string; promoted: boolean; members: number }> {
    const ctx = Context.current();
    const deadlineMs = deadlineMsOf(until);
    let promoted = false;
    let last = '';
    for (;;) {
      const members = await listEtcdMembers(deps, cluster);
      const me = members.find((m) => m.id === memberId);
      if (!me)
        throw ApplicationFailure.nonRetryable(
          `etcd member ${memberId} of '${cluster}' is gone from the member list`,
          failureTypes.UnknownEtcdMember,
        );
      if (!me.isLearner && members.every((m) => m.healthy)) return { memberId, promoted, members: members.length };
      if (me.isLearner) {
        try {
          await etcdctl(deps, cluster, ['member', 'promote', memberId]);
          promoted = true;
        } catch (err) {
          last = etcdctlError(err);
        }
      } else
        last = `waiting for every member to answer: ${members
          .filter((m) => !m.healthy)
          .map((m) => m.name || m.id)
          .join(', ')}`;
      ctx.heartbeat({ memberId, last });
      if (Date.now() >= deadlineMs)
        throw ApplicationFailure.nonRetryable(
          `etcd member ${memberId} of '${cluster}' was not a healthy voting member by ${new Date(deadlineMs).toISOString()}: ${last}`,
          failureTypes.EtcdLearnerNotCaughtUp,
        );
      await ctx.sleep(1_000);
    }
  },
});

export type EtcdMemberActivities = ReturnType<typeof createEtcdMemberActivities>;
