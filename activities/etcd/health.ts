// etcd's health through etcdctl (the members' status, leader, revision, size), as its operators read it.
import { execa } from 'execa';
import type { EtcdHealth, EtcdMemberStatus } from '../../model/health.js';
import type { ReachabilityWitness } from '../../model/partition.js';
import { quorum as quorumOf } from '../../model/etcd-recovery.js';
import type { ActivityDeps } from '../deps.js';
import { clusterClients } from '../kubernetes/cluster.js';
import { describeNetworkError, healthCheckDeadlineMs } from '../network-errors.js';

interface EtcdctlEndpointStatus {
  Endpoint: string;
  Status: { header: { member_id: string; revision: string | number }; version: string; dbSize: string | number; leader: string };
}

/** etcd's ids are uint64: quote every long integer before JSON.parse so none loses precision. */
export const parseEtcdJson = (text: string): unknown => JSON.parse(text.replace(/([:[,]\s*)(\d{16,})/g, '$1"$2"'));

/** Runs etcdctl against a cluster's etcd (every endpoint, or the `endpoints` given) with its client certificates. */
export async function etcdctl(
  deps: Pick<ActivityDeps, 'clusters' | 'tools'>,
  cluster: string,
  args: string[],
  timeoutMs = healthCheckDeadlineMs,
  endpoints?: string[],
) {
  const { etcd } = clusterClients(deps, cluster).config;
  return execa(
    deps.tools.etcdctl,
    [
      `--endpoints=${(endpoints ?? etcd.endpoints).join(',')}`,
      `--cacert=${etcd.caFile}`,
      `--cert=${etcd.certFile}`,
      `--key=${etcd.keyFile}`,
      `--command-timeout=${Math.ceil(timeoutMs / 1000)}s`,
      `--dial-timeout=${Math.min(5, Math.ceil(timeoutMs / 1000))}s`,
      ...args,
    ],
    { timeout: timeoutMs + 8_000 },
  ); // etcdctl's own deadline ends it first, and says why; the margin covers a loaded host
}

/** One configured endpoint's answer: its member's status, or why it gave none. */
export type EtcdEndpointAnswer = { endpoint: string; status: EtcdMemberStatus } | { endpoint: string; error: string };

/**
 * Each configured endpoint asked on its own, all at once: one member down must not hide the others'
 * status (etcdctl fails the whole command when any endpoint of a list does not answer).
 */
export async function etcdEndpointAnswers(deps: Pick<ActivityDeps, 'clusters' | 'tools'>, cluster: string): Promise<EtcdEndpointAnswer[]> {
  const { etcd } = clusterClients(deps, cluster).config;
  return Promise.all(
    etcd.endpoints.map(async (endpoint): Promise<EtcdEndpointAnswer> => {
      try {
        const { stdout } = await etcdctl(deps, cluster, ['endpoint', 'status', '-w', 'json'], healthCheckDeadlineMs, [endpoint]);
        const [s] = parseEtcdJson(stdout) as EtcdctlEndpointStatus[];
        if (!s) return { endpoint, error: 'no status in the answer' };
        return {
          endpoint,
          status: {
            endpoint: s.Endpoint,
            version: s.Status.version,
            revision: Number(s.Status.header.revision),
            dbSizeBytes: Number(s.Status.dbSize),
            memberId: String(s.Status.header.member_id),
            leaderId: String(s.Status.leader),
            isLeader: String(s.Status.leader) === String(s.Status.header.member_id),
          },
        };
      } catch (err) {
        return { endpoint, error: etcdctlError(err) };
      }
    }),
  );
}

/** A member that answered and follows a leader: one that takes part in the quorum now. */
export const followsLeader = (s: EtcdMemberStatus | undefined): s is EtcdMemberStatus => s !== undefined && s.leaderId !== '0';

/** The statuses of the endpoints that answered. */
export const answeredStatuses = (answers: EtcdEndpointAnswer[]): EtcdMemberStatus[] =>
  answers.flatMap((a) => ('status' in a ? [a.status] : []));

/**
 * The member a snapshot is streamed from: one that answered and follows a leader, a follower before
 * the leader (a snapshot is a long read that would otherwise compete with the leader's raft work);
 * the first such in configuration order, so the choice is stable. Throws, naming each endpoint's
 * answer, when no member qualifies.
 */
export function snapshotSourceMember(answers: EtcdEndpointAnswer[], cluster: string): EtcdMemberStatus {
  const healthy = answeredStatuses(answers).filter(followsLeader);
  const chosen = healthy.find((m) => !m.isLeader) ?? healthy[0];
  if (chosen) return chosen;
  // One endpoint: its own words are the message (what classifySnapshotError reads, e.g. a TLS refusal).
  const [only] = answers;
  if (answers.length === 1 && only && 'error' in only) throw new Error(only.error);
  const said = answers.map((a) => `${a.endpoint}: ${'error' in a ? a.error : 'no leader'}`).join('; ');
  throw new Error(`no member of cluster '${cluster}' etcd answers with a leader (${said})`);
}

/** What etcdctl said went wrong, without its retry chatter: the TLS reason when there is one. */
export function etcdctlError(err: unknown): string {
  const e = err as { stderr?: string; timedOut?: boolean };
  // What etcdctl saw (TLS refused, connection refused) wins over our own kill: on a loaded host the
  // process can outlive its deadline by a few seconds after it has already logged the reason.
  const stderr = e.stderr ?? '';
  const tls = /(tls: [^"\\]+|x509: [^"\\]+|certificate (?:signed|required|has expired)[^"\\]*)/.exec(stderr)?.[1];
  const last = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .pop();
  if (tls) return `TLS: ${tls.trim()}${last ? ` (${last})` : ''}`;
  if (/connection refused/.test(stderr)) return 'connection refused';
  if (e.timedOut) return `no answer within ${healthCheckDeadlineMs / 1000} s`;
  return last ?? describeNetworkError(err);
}

export const createEtcdHealthActivities = (deps: Pick<ActivityDeps, 'clusters' | 'tools'>) => ({
  async checkEtcd({ cluster }: { cluster: string }): Promise<EtcdHealth> {
    const { etcd } = clusterClients(deps, cluster).config;
    const address = etcd.endpoints.join(',');
    const component = `etcd/${cluster}`;
    const answers = await etcdEndpointAnswers(deps, cluster);
    const members = answeredStatuses(answers);
    const silent = answers.flatMap((a) => ('error' in a ? [`${a.endpoint}: ${a.error}`] : []));
    if (!members.length)
      return {
        component,
        address,
        healthy: false,
        quorum: false,
        members,
        detail: silent.length === 1 ? silent[0]!.replace(/^[^ ]+: /, '') : silent.join('; '),
      };
    const leader = members.find((m) => m.isLeader) ?? members.find(followsLeader);
    const healthy = !silent.length && members.every(followsLeader);
    const first = members[0]!;
    const size = `v${first.version}, revision ${first.revision}, db ${(first.dbSizeBytes / 1024 / 1024).toFixed(1)} MiB, leader ${leader ? leader.leaderId : 'none'}`;
    // Several members: how many answered, and whether those that did still make a quorum.
    const quorum = members.filter(followsLeader).length >= quorumOf(answers.length);
    const count =
      answers.length > 1
        ? `${members.length}/${answers.length} members answered${silent.length ? ` (${quorum ? 'quorum holds' : 'QUORUM LOST'}; ${silent.join('; ')})` : ''}, `
        : '';
    return { component, address, healthy, quorum, members, detail: `${count}${size}` };
  },

  /**
   * Whether any member of `cluster`'s etcd answers the worker (a witness of the networkPartition
   * runbook): reachable when one does (healthy when one follows a leader), error when TLS refused the
   * question (the worker's certificates, not the network), unreachable otherwise.
   */
  async probeClusterEtcd({ cluster }: { cluster: string }): Promise<ReachabilityWitness> {
    const { etcd } = clusterClients(deps, cluster).config;
    const started = Date.now();
    const answers = await etcdEndpointAnswers(deps, cluster);
    const members = answeredStatuses(answers);
    const silent = answers.flatMap((a) => ('error' in a ? [`${a.endpoint}: ${a.error}`] : []));
    const base = { component: `etcd/${cluster}`, address: etcd.endpoints.join(','), tookMs: Date.now() - started };
    if (members.length)
      return {
        ...base,
        state: 'reachable',
        healthy: members.some(followsLeader),
        detail: `${members.length}/${answers.length} members answered${silent.length ? ` (${silent.join('; ')})` : ''}`,
      };
    return { ...base, state: silent.every((s) => /TLS: /.test(s)) ? 'error' : 'unreachable', healthy: false, detail: silent.join('; ') };
  },
});
