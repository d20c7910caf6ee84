// The baseline of bench:etcd-restore: restoring a 3-member etcd from a Lifeboat snapshot by hand, as a
// skilled SRE with admin rights scripts it with the tools on the host (kubectl with the lab's admin
// kubeconfig) and nothing of Lifeboat's but `lifeboat snapshots fetch` (the way out when Lifeboat's
// runbook cannot run). The same steps as the etcd-recovery runbook, none of its safety left out: the
// snapshot's sha256s checked (fetch) and read by etcdutl; the current revision read first, so
// --bump-revision passes every revision the cluster has served; controllers stopped before the API
// server, the API server before etcd; old data dirs moved aside, never deleted; a new cluster token; a
// leader at the bumped revision before the API server starts; kubelets restarted before the
// controllers; done when every Deployment that was Available is Available again. `proc.js stop|start
// NAME` is this lab's `systemctl stop|start`. It polls as often as the runbook does (etcd and
// Deployments every second, /readyz every half second), so neither side wins by polling harder.
//
// A failure before the API server serves the restore puts the old data dirs back (the restore's are
// kept beside them) and starts the old cluster, as the runbook's compensation does.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Deployment } from '@kubernetes/client-node';
import { execa } from 'execa';
import { isDeploymentAvailable } from '../../activities/kubernetes/deployments.js';
import { etcdutlRestoreArgs, planEtcdRestore, type EtcdRestorePlan } from '../../model/etcd-recovery.js';
import { runIdTail, type SnapshotManifest } from '../../model/snapshot-layout.js';
import { adminKubeconfigFile } from '../../lab/admin-credentials.js';
import { bin, etcdMembersOf, labClusters, type LabEtcdMember } from '../../lab/topology.js';
import type { ClusterConfig } from '../../worker/config.js';

const cliPath = fileURLToPath(new URL('../../../bin/lifeboat.js', import.meta.url));
const procPath = fileURLToPath(new URL('../../lab/proc.js', import.meta.url));

export interface ByHandOptions {
  cluster: ClusterConfig;
  manifest: SnapshotManifest;
  /** Where to fetch the snapshot to; must not exist. Removed at the end (it holds the cluster's Secrets). */
  file: string;
  /** The environment `lifeboat` runs with (LIFEBOAT_CONFIG, LIFEBOAT_S3_BUCKET). */
  env: Record<string, string>;
  /** Checked between phases: an aborted restore rolls back if it can, then throws. */
  signal?: AbortSignal;
  /** Each phase's name and seconds, as it ends. */
  onPhase?: (phase: ByHandPhase, seconds: number) => void;
}

export const byHandPhases = [
  'fetch',
  'check',
  'stop',
  'aside',
  'restore',
  'etcd',
  'api',
  'kubelets-controllers',
  'workloads',
  'cleanup',
] as const;
export type ByHandPhase = (typeof byHandPhases)[number];

export interface ByHandResult {
  /** Whole run, fetch to cleanup. */
  wallSeconds: number;
  /** From the API server's stop until every Deployment is Available again (the runbook's RTO). */
  rtoSeconds: number;
  /** From the API server's stop until /readyz answers 200. */
  apiUnavailableSeconds: number;
  phases: Record<ByHandPhase, number>;
  revisionBeforeRestore: number;
  revisionBump: number;
  restoredRevision: number;
  /** Deployments waited for (Available before, and in the snapshot). */
  deployments: number;
  /** Deployments Available before that the snapshot does not hold: not waited for. */
  notInSnapshot: string[];
  /** The old data dirs, kept: the caller removes them once it no longer needs them. */
  movedAside: string[];
}

const proc = (action: 'start' | 'stop', name: string) => execa(process.execPath, [procPath, action, name]);

export async function restoreByHand(o: ByHandOptions): Promise<ByHandResult> {
  const { cluster, manifest, file } = o;
  const spec = labClusters.find((c) => c.name === cluster.name);
  if (!spec) throw new Error(`cluster '${cluster.name}' is not one of the lab's`);
  const members = etcdMembersOf(spec);
  const kubeconfig = adminKubeconfigFile(cluster.name);
  const component = (c: string) => `${c}/${cluster.name}`;
  const etcdctl = (endpoint: string, args: string[]) =>
    execa(bin.etcdctl, [
      `--endpoints=${endpoint}`,
      `--cacert=${cluster.etcd.caFile}`,
      `--cert=${cluster.etcd.certFile}`,
      `--key=${cluster.etcd.keyFile}`,
      '--dial-timeout=2s',
      '--command-timeout=5s',
      ...args,
    ]);
  const kubectl = (args: string[]) => execa(bin.kubectl, ['--kubeconfig', kubeconfig, '--request-timeout=10s', ...args]);

  const phases = {} as Record<ByHandPhase, number>;
  const t0 = performance.now();
  let mark = t0;
  const phase = (name: ByHandPhase) => {
    const now = performance.now();
    phases[name] = (now - mark) / 1000;
    mark = now;
    o.onPhase?.(name, phases[name]);
    if (o.signal?.aborted) throw new Error(`stopped after phase ${name}`);
  };

  // 1. The snapshot: downloaded, decrypted, both sha256s checked against the manifest.
  await execa(
    process.execPath,
    [cliPath, 'snapshots', 'fetch', '--cluster', cluster.name, '--snapshot', manifest.snapshotId, '--out', file, '--json'],
    {
      env: o.env,
    },
  );
  phase('fetch');

  // 2. etcdutl reads it; the revision the cluster is at now (for the bump); the Deployments Available now.
  const status = JSON.parse((await execa(bin.etcdutl, ['snapshot', 'status', file, '-w', 'json'])).stdout) as { revision: number };
  if (!(status.revision >= manifest.etcd.revisionAtStart))
    throw new Error(`the snapshot file holds revision ${status.revision}, below its manifest's ${manifest.etcd.revisionAtStart}`);
  const revisions = await Promise.all(members.map((m) => endpointStatus(m).then((s) => s?.revision ?? 0)));
  const revisionBeforeRestore = Math.max(...revisions);
  const runId = randomUUID();
  const plan = planOrThrow(
    planEtcdRestore({
      cluster: cluster.name,
      runId,
      snapshot: manifest,
      members: members.map((m) => ({ name: m.name, peerURLs: [m.peerUrl], dataDir: m.dataDir })),
      now: new Date().toISOString(),
      revisionBeforeRestore,
    }),
  );
  const availableBefore = (await deployments()).filter(isDeploymentAvailable).map(key);
  phase('check');

  let apiServing = false;
  try {
    // 3. Controllers, then the API server (the outage starts), then every etcd member.
    // The outage starts with the first component stopped, as Lifeboat's RTO counts it.
    const outageStarted = performance.now();
    await Promise.all([proc('stop', component('kube-controller-manager')), proc('stop', component('kube-scheduler'))]);
    const apiStopped = performance.now();
    await proc('stop', component('kube-apiserver'));
    await Promise.all(members.map((m) => proc('stop', m.daemon)));
    phase('stop');

    // 4. Each old data dir moved aside: one rename, nothing deleted.
    for (const p of plan.members) {
      if (existsSync(p.movedAsideTo)) throw new Error(`${p.movedAsideTo} exists already`);
      await rename(p.dataDir, p.movedAsideTo);
    }
    phase('aside');

    // 5. Every member restored at once, with the runbook's flags (new token, bumped revision, compacted).
    await Promise.all(plan.members.map((p) => execa(bin.etcdutl, etcdutlRestoreArgs(plan, p, file))));
    phase('restore');

    // 6. The members started; one leader, every member at the bumped revision or above.
    await Promise.all(members.map((m) => proc('start', m.daemon)));
    let restoredRevision = 0;
    for (let last = ''; ; await sleep(1_000)) {
      const statuses = await Promise.all(members.map(endpointStatus));
      const leaders = new Set(statuses.map((s) => s?.leader));
      if (statuses.every((s) => s && s.leader !== '0' && s.revision >= plan.revisionAfterRestoreAtLeast) && leaders.size === 1) {
        restoredRevision = Math.max(...statuses.map((s) => s!.revision));
        break;
      }
      last = statuses.map((s, i) => `${members[i]!.name}: ${s ? `leader ${s.leader}, revision ${s.revision}` : 'no answer'}`).join('; ');
      if (performance.now() - mark > 300_000)
        throw new Error(`no quorum at revision ${plan.revisionAfterRestoreAtLeast} in 300 s: ${last}`);
    }
    phase('etcd');

    // 7. The API server, until /readyz answers 200 (the outage ends).
    await proc('start', component('kube-apiserver'));
    for (;;) {
      const r = await kubectl(['get', '--raw', '/readyz']).catch(() => undefined);
      if (r?.stdout.trim() === 'ok') break;
      if (performance.now() - mark > 600_000) throw new Error('the API server is not ready 600 s after it started');
      await sleep(500);
    }
    apiServing = true;
    const apiReady = performance.now();
    phase('api');

    // 8. Kubelets (kwok) restarted, so every Node renews its Lease on the restored data; then the controllers.
    await proc('stop', component('kwok'));
    await proc('start', component('kwok'));
    await Promise.all([proc('start', component('kube-controller-manager')), proc('start', component('kube-scheduler'))]);
    phase('kubelets-controllers');

    // 9. Every Deployment that was Available before is Available again (those the snapshot holds).
    const present = new Set((await deployments()).map(key));
    const wanted = availableBefore.filter((d) => present.has(d));
    for (;;) {
      const now = new Map((await deployments()).map((d) => [key(d), d]));
      const waiting = wanted.filter((d) => {
        const x = now.get(d);
        return !x || !isDeploymentAvailable(x);
      });
      if (!waiting.length) break;
      if (performance.now() - mark > 600_000)
        throw new Error(`${waiting.length} Deployments not Available 600 s after the restore: ${waiting.slice(0, 5).join(', ')}`);
      await sleep(1_000);
    }
    const workloadsBack = performance.now();
    phase('workloads');

    await rm(file, { force: true });
    phase('cleanup');
    return {
      wallSeconds: (performance.now() - t0) / 1000,
      rtoSeconds: (workloadsBack - outageStarted) / 1000,
      apiUnavailableSeconds: (apiReady - apiStopped) / 1000,
      phases,
      revisionBeforeRestore,
      revisionBump: plan.revisionBump,
      restoredRevision,
      deployments: wanted.length,
      notInSnapshot: availableBefore.filter((d) => !present.has(d)),
      movedAside: plan.members.map((p) => p.movedAsideTo),
    };
  } catch (err) {
    await rm(file, { force: true });
    if (!apiServing) await rollBack(plan);
    else await startControlPlane();
    throw err;
  }

  /** A member's `etcdctl endpoint status`, or undefined when it does not answer. */
  async function endpointStatus(m: LabEtcdMember): Promise<{ revision: number; leader: string } | undefined> {
    try {
      const { stdout } = await etcdctl(m.clientUrl, ['endpoint', 'status', '-w', 'json']);
      // Member ids are uint64: quoted before parsing so none loses precision.
      const [s] = JSON.parse(stdout.replace(/([:[,]\s*)(\d{16,})/g, '$1"$2"')) as {
        Status: { header: { revision: number }; leader: string };
      }[];
      return s ? { revision: Number(s.Status.header.revision), leader: String(s.Status.leader) } : undefined;
    } catch {
      return undefined;
    }
  }

  async function deployments(): Promise<V1Deployment[]> {
    return (
      JSON.parse((await kubectl(['get', 'deployments', '--all-namespaces', '-o', 'json'])).stdout) as { items: V1Deployment[] }
    ).items.filter((d) => (d.spec?.replicas ?? 1) > 0);
  }

  /** The old cluster back: the restore's data dirs kept beside the old ones, the old ones put back, everything started. */
  async function rollBack(p: EtcdRestorePlan): Promise<void> {
    await Promise.all(members.map((m) => proc('stop', m.daemon)));
    for (const m of p.members) {
      if (!existsSync(m.movedAsideTo)) continue;
      if (existsSync(m.dataDir)) await rename(m.dataDir, `${m.dataDir}.bench-${runIdTail(runId)}-restored`);
      await rename(m.movedAsideTo, m.dataDir);
    }
    await startControlPlane();
  }

  /** Every process of the control plane started (those running are left as they are). */
  async function startControlPlane(): Promise<void> {
    await Promise.all(members.map((m) => proc('start', m.daemon)));
    for (const c of ['kube-apiserver', 'kwok', 'kube-controller-manager', 'kube-scheduler']) await proc('start', component(c));
  }
}

const key = (d: V1Deployment) => `${d.metadata!.namespace}/${d.metadata!.name}`;

function planOrThrow(decision: ReturnType<typeof planEtcdRestore>): EtcdRestorePlan {
  if (!decision.ok) throw new Error(`refused: ${decision.reason}`);
  return decision;
}
