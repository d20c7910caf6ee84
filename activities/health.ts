// Health checks of every component a runbook depends on. A check that reaches its component and finds
// it unhealthy, or cannot reach it, reports that (with the address tried) instead of failing: the
// report is the product. Only configuration errors fail the activity.
import { Context } from '@temporalio/activity';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import type { LifeboatClients } from '../worker/clients.js';
import { clusterClients } from './kubernetes/cluster.js';
import { describeNetworkError, withDeadline } from './network-errors.js';
import { isNotFound } from './kubernetes/api.js';

export interface ComponentHealth {
  /** e.g. `nodes/primary`, `etcd/primary`, `object-store`. */
  component: string;
  healthy: boolean;
  /** What was contacted. */
  address: string;
  detail: string;
}

export interface EtcdMemberStatus {
  endpoint: string;
  version: string;
  revision: number;
  dbSizeBytes: number;
  memberId: string;
  leaderId: string;
  isLeader: boolean;
}

export interface EtcdHealth extends ComponentHealth {
  members: EtcdMemberStatus[];
}

const checkDeadlineMs = 10_000;

interface EtcdctlEndpointStatus {
  Endpoint: string;
  Status: { header: { member_id: string; revision: string | number }; version: string; dbSize: string | number; leader: string };
}

/** etcd's ids are uint64: quote every long integer before JSON.parse so none loses precision. */
const parseEtcdJson = (text: string): unknown => JSON.parse(text.replace(/([:[,]\s*)(\d{16,})/g, '$1"$2"'));

/** Runs etcdctl against a cluster's etcd with its client certificates. */
export async function etcdctl(clients: LifeboatClients, cluster: string, args: string[], timeoutMs = checkDeadlineMs) {
  const { etcd } = clusterClients(clients, cluster).config;
  return execa(clients.config.tools.etcdctl, [
    `--endpoints=${etcd.endpoints.join(',')}`, `--cacert=${etcd.caFile}`, `--cert=${etcd.certFile}`, `--key=${etcd.keyFile}`,
    `--command-timeout=${Math.ceil(timeoutMs / 1000)}s`, `--dial-timeout=${Math.min(5, Math.ceil(timeoutMs / 1000))}s`, ...args,
  ], { timeout: timeoutMs + 8_000 }); // etcdctl's own deadline ends it first, and says why; the margin covers a loaded host
}

export async function etcdMemberStatus(clients: LifeboatClients, cluster: string): Promise<EtcdMemberStatus[]> {
  const { stdout } = await etcdctl(clients, cluster, ['endpoint', 'status', '-w', 'json']);
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
  const last = stderr.split('\n').map((l) => l.trim()).filter(Boolean).pop();
  if (tls) return `TLS: ${tls.trim()}${last ? ` (${last})` : ''}`;
  if (/connection refused/.test(stderr)) return 'connection refused';
  if (e.timedOut) return `no answer within ${checkDeadlineMs / 1000} s`;
  return last ?? describeNetworkError(err);
}

export const createHealthActivities = (clients: LifeboatClients) => ({
  async checkNodes({ cluster }: { cluster: string }): Promise<ComponentHealth> {
    const { kubeConfig, server } = clusterClients(clients, cluster);
    const component = `nodes/${cluster}`;
    try {
      const nodes = await withDeadline(checkDeadlineMs, kubeConfig.makeApiClient(CoreV1Api).listNode());
      const ready = nodes.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      const notReady = nodes.items.filter((n) => !ready.includes(n)).map((n) => n.metadata?.name);
      return {
        component, address: server,
        healthy: nodes.items.length > 0 && notReady.length === 0,
        detail: `${ready.length}/${nodes.items.length} Nodes Ready${notReady.length ? `; not Ready: ${notReady.join(', ')}` : ''}`,
      };
    } catch (err) {
      return { component, address: server, healthy: false, detail: `kube-apiserver: ${describeNetworkError(err)}` };
    }
  },

  async checkEtcd({ cluster }: { cluster: string }): Promise<EtcdHealth> {
    const { etcd } = clusterClients(clients, cluster).config;
    const address = etcd.endpoints.join(',');
    const component = `etcd/${cluster}`;
    try {
      const members = await etcdMemberStatus(clients, cluster);
      const leader = members.find((m) => m.isLeader) ?? members.find((m) => m.leaderId !== '0');
      const healthy = members.length === etcd.endpoints.length && members.every((m) => m.leaderId !== '0');
      const first = members[0];
      return {
        component, address, healthy, members,
        detail: first
          ? `v${first.version}, revision ${first.revision}, db ${(first.dbSizeBytes / 1024 / 1024).toFixed(1)} MiB, leader ${leader ? leader.leaderId : 'none'}`
          : 'no member answered',
      };
    } catch (err) {
      return { component, address, healthy: false, members: [], detail: etcdctlError(err) };
    }
  },

  async checkVeleroLocation({ cluster }: { cluster: string }): Promise<ComponentHealth> {
    const { kubeConfig, server, config } = clusterClients(clients, cluster);
    const { namespace, storageLocation } = config.velero;
    const component = `velero/${cluster}`;
    const address = `${server} backupstoragelocations/${namespace}/${storageLocation}`;
    try {
      const bsl = (await withDeadline(checkDeadlineMs, kubeConfig.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
        group: 'velero.io', version: 'v1', namespace, plural: 'backupstoragelocations', name: storageLocation,
      }))) as { status?: { phase?: string; message?: string; lastValidationTime?: string } };
      const phase = bsl.status?.phase ?? 'Unknown';
      return {
        component, address, healthy: phase === 'Available',
        detail: `BackupStorageLocation ${phase}${bsl.status?.lastValidationTime ? `, validated ${bsl.status.lastValidationTime}` : ''}${bsl.status?.message ? `: ${bsl.status.message}` : ''}`,
      };
    } catch (err) {
      return { component, address, healthy: false, detail: isNotFound(err) ? 'BackupStorageLocation not found' : `kube-apiserver: ${describeNetworkError(err)}` };
    }
  },

  /** Writes, reads back and deletes an object named after this activity's workflow run. */
  async checkObjectStore(): Promise<ComponentHealth> {
    const { bucket, endpoint } = clients.config.objectStore;
    const run = Context.current().info.workflowExecution;
    const runId = run?.runId ?? Context.current().info.activityId;
    const key = `health/${run?.workflowId ?? 'standalone'}/${runId}`;
    const address = `${endpoint ?? 's3'}/${bucket}`;
    const body = `lifeboat health check ${runId}`;
    try {
      await withDeadline(checkDeadlineMs, clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body })));
      const got = await withDeadline(checkDeadlineMs, clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
      const read = await got.Body?.transformToString();
      await withDeadline(checkDeadlineMs, clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })));
      return read === body
        ? { component: 'object-store', address, healthy: true, detail: 'write, read and delete succeeded' }
        : { component: 'object-store', address, healthy: false, detail: 'object read back differs from what was written' };
    } catch (err) {
      const name = (err as Error).name;
      return { component: 'object-store', address, healthy: false, detail: name && name !== 'Error' && name !== 'TypeError' ? `${name}: ${(err as Error).message}` : describeNetworkError(err) };
    }
  },
});

export type HealthActivities = ReturnType<typeof createHealthActivities>;
