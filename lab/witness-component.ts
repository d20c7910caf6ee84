// The site witnesses of the networkPartition runbook as lab processes: on each lab cluster a
// `lifeboat witness` watching the other's API and writing the Lease lifeboat-system/peer-<other>, as
// deploy/kubernetes/witness runs it in a real cluster, with its own ServiceAccount's token. Its peer
// address is the other API server's own; a fault proxy's standby→primary path replaces it once the lab
// has one, so a partition between the sites is one the witness sees.
import { readFile, writeFile, chmod } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import type { LabComponent } from './components.js';
import { faultPath } from './faults.js';
import { httpProbe } from './probes.js';
import { bin, clusterPaths, host, labClusters, type LabClusterSpec } from './topology.js';
import { tokenLifetime } from './rbac.js';
import { siteWitnessLeaseName, siteWitnessNamespace } from '../model/partition.js';

const cli = fileURLToPath(new URL('../../bin/lifeboat.js', import.meta.url));
const deployDir = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));
const witnessAccount = 'lifeboat-witness';

/** The witness's token kubeconfig on `cluster`, beside the admin one. */
export const witnessKubeconfigOf = (cluster: string) => clusterPaths(cluster).kubeconfig(witnessAccount);

const peerOf = (c: LabClusterSpec) => labClusters.find((x) => x.name !== c.name)!;

function witnessComponent(c: LabClusterSpec): LabComponent {
  const peer = peerOf(c);
  const lease = `https://${host}:${c.apiserverPort}/apis/coordination.k8s.io/v1/namespaces/${siteWitnessNamespace}/leases/${siteWitnessLeaseName(peer.name)}`;
  const p = clusterPaths(c.name);
  // Through the fault proxy's path from this site to the other (lab/faults.ts), so `lab fault` can cut
  // the sites from each other while the worker still sees both.
  const peerAddress = faultPath(`${c.name}-to-${peer.name}`).listen;
  return {
    name: `witness/${c.name}`,
    address: `${peer.name} at https://${peerAddress} (fault path ${c.name}-to-${peer.name})`,
    after: [`kube-apiserver/${c.name}`, 'toxiproxy'],
    daemon: {
      name: `witness/${c.name}`,
      command: process.execPath,
      args: [
        cli,
        'witness',
        ...['--cluster', c.name, '--peer', peer.name],
        ...['--peer-url', `https://${peerAddress}`, '--peer-ca-file', clusterPaths(peer.name).caCert],
        ...['--kubeconfig', witnessKubeconfigOf(c.name), '--interval', '5', '--timeout', '3'],
      ],
    },
    // Healthy when its record in its own cluster is fresh; it says what it last saw of the peer.
    probe: async () => {
      const r = await httpProbe(lease, { caFile: p.caCert, certFile: `${p.pki}/user-admin.crt`, keyFile: `${p.pki}/user-admin.key` });
      if (!r.ok) return r;
      const l = JSON.parse(r.body) as {
        metadata: { annotations?: Record<string, string> };
        spec: { renewTime?: string; leaseDurationSeconds?: number };
      };
      const age = (Date.now() - Date.parse(l.spec.renewTime ?? '')) / 1000;
      const seen = l.metadata.annotations?.['lifeboat.io/peer-state'] ?? 'nothing yet';
      return age <= (l.spec.leaseDurationSeconds ?? 0)
        ? { ok: true, detail: `renewed ${Math.round(age)} s ago; sees ${peer.name} ${seen}` }
        : { ok: false, detail: `record stale (${Math.round(age)} s old)` };
    },
  };
}

export const witnessComponents: LabComponent[] = labClusters.map(witnessComponent);

/**
 * On each lab cluster: the witness's ServiceAccount and the network-partition roles and bindings as an
 * operator applies them, and a fresh token kubeconfig (0600) for it. Idempotent.
 */
export async function ensureWitnessCredentials(): Promise<string[]> {
  return Promise.all(
    labClusters.map(async (c) => {
      const admin = clusterPaths(c.name).kubeconfig('admin');
      await execa(bin.kubectl, [
        ...['--kubeconfig', admin, 'apply', '--server-side', '--force-conflicts', '--field-manager', 'lifeboat-lab'],
        ...['-f', `${deployDir}roles/network-partition.yaml`, '-f', `${deployDir}witness/serviceaccount.yaml`],
        ...['-f', `${deployDir}components/network-partition/bindings.yaml`],
      ]);
      const { stdout: token } = await execa(bin.kubectl, [
        ...['--kubeconfig', admin, 'create', 'token', witnessAccount, '--namespace', siteWitnessNamespace, '--duration', tokenLifetime],
      ]);
      const cluster = (parse(await readFile(admin, 'utf8')) as { clusters: { cluster: object }[] }).clusters[0]!.cluster;
      const file = witnessKubeconfigOf(c.name);
      await writeFile(
        file,
        stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: c.name, cluster }],
          users: [{ name: witnessAccount, user: { token: token.trim() } }],
          contexts: [{ name: c.name, context: { cluster: c.name, user: witnessAccount } }],
          'current-context': c.name,
        }),
        { mode: 0o600 },
      );
      await chmod(file, 0o600);
      return file;
    }),
  );
}
