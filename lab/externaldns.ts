// ExternalDNS in the lab: its DNSEndpoint CRD on every cluster, and each app's traffic record. ExternalDNS
// itself does not run (nothing publishes the records to a DNS server): Lifeboat writes the records, and
// the tests read them back through the API.
import { stringify } from 'yaml';
import { dnsEndpointFor } from '../activities/traffic/switch.js';
import { configSchema } from '../worker/config.js';
import { crdFiles } from './topology.js';

type Kubectl = (cluster: string, args: string[], input?: string) => Promise<string>;

/** Applies the DNSEndpoint CRD from ExternalDNS's module and waits until the API serves it. */
export async function installDnsEndpointCrd(kubectl: Kubectl, cluster: string): Promise<void> {
  await kubectl(cluster, ['apply', '--server-side', '--force-conflicts', '--field-manager', 'lifeboat-lab', '-f', crdFiles.dnsEndpoint]);
  await kubectl(cluster, ['wait', '--for', 'condition=Established', '--timeout', '60s', 'crd/dnsendpoints.externaldns.k8s.io']);
}

/**
 * Creates the DNSEndpoint (and its namespace) of each app whose traffic is an ExternalDNS record,
 * pointing at the app's own cluster, when there is none. An existing record is never changed: a
 * failover may have switched it. Returns one line per record saying which.
 */
export async function ensureTrafficRecords(kubectl: Kubectl, labConfig: object): Promise<string[]> {
  const done: string[] = [];
  for (const app of configSchema.parse(labConfig).apps) {
    const traffic = app.failover?.traffic;
    if (traffic?.provider !== 'externalDNS') continue;
    const where = `${app.name}: DNSEndpoint ${traffic.namespace}/${traffic.name} on ${traffic.cluster}`;
    await kubectl(
      traffic.cluster,
      ['apply', '--server-side', '--field-manager', 'lifeboat-lab', '-f', '-'],
      stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: traffic.namespace } }),
    );
    try {
      await kubectl(traffic.cluster, ['create', '-f', '-'], stringify(dnsEndpointFor(traffic, app.cluster)));
      done.push(`${where} created, pointing at ${app.cluster}`);
    } catch (err) {
      if (!/\(AlreadyExists\)/.test((err as { stderr?: string }).stderr ?? '')) throw err;
      done.push(`${where} exists; left as it is`);
    }
  }
  return done;
}
