// etcd's health through etcdctl (the members' status, leader, revision, size), as its operators read it.
import { execa } from 'execa';
import type { EtcdHealth, EtcdMemberStatus } from '../../model/health.js';
import type { ActivityDeps } from '../deps.js';
import { clusterClients } from '../kubernetes/cluster.js';
import { describeNetworkError, healthCheckDeadlineMs } from '../network-errors.js';

interface EtcdctlEndpointStatus {
  Endpoint: string;
  Status: { header: { member_id: string; revision: string | number }; version: string; dbSize: string | number; leader: string };
}

/** etcd's ids are uint64: quote every long integer before JSON.parse so none loses precision. */
const parseEtcdJson = (text: string): unknown => JSON.parse(text.replace(/([:[,]\s*)(\d{16,})/g, '$1"$2"'));

/** Runs etcdctl against a cluster's etcd with its client certificates. */
export async function etcdctl(
  deps: Pick<ActivityDeps, 'clusters' | 'tools'>,
  cluster: string,
  args: string[],
  timeoutMs = healthCheckDeadlineMs,
) {
  const { etcd } = clusterClients(deps, cluster).config;
  return execa(
    deps.tools.etcdctl,
    [
      `--endpoints=${etcd.endpoints.join(',')}`,
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

export async function etcdMemberStatus(deps: Pick<ActivityDeps, 'clusters' | 'tools'>, cluster: string): Promise<EtcdMemberStatus[]> {
  const { stdout } = await etcdctl(deps, cluster, ['endpoint', 'status', '-w', 'json']);
  return (parseEtcdJson(stdout) as EtcdctlEndpointStatus[]).map((s) => ({
    endpoint: s.Endpoint,
    version: s.Status.version,
    revision: Number(s.Status.header.revision),
    dbSizeBytes: Number(s.Status.dbSize),
    memberId: String(s.Status.header.member_id),
    leaderId: String(s.Status.leader),
    isLeader: String(s.Status.leader) === String(s.Status.header.member_id),
  }));
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
    try {
      const members = await etcdMemberStatus(deps, cluster);
      const leader = members.find((m) => m.isLeader) ?? members.find((m) => m.leaderId !== '0');
      const healthy = members.length === etcd.endpoints.length && members.every((m) => m.leaderId !== '0');
      const first = members[0];
      return {
        component,
        address,
        healthy,
        members,
        detail: first
          ? `v${first.version}, revision ${first.revision}, db ${(first.dbSizeBytes / 1024 / 1024).toFixed(1)} MiB, leader ${leader ? leader.leaderId : 'none'}`
          : 'no member answered',
      };
    } catch (err) {
      return { component, address, healthy: false, members: [], detail: etcdctlError(err) };
    }
  },
});
