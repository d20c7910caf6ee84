// The throwaway warm-standby app the failover benchmarks fail over: a namespace of its own with N
// Deployments running on primary, the same Deployments at zero on standby, and a DNSEndpoint on
// standby pointing at primary; put back into that state through the API before every run, so each
// run starts the same. The bench makes, resets and checks it with the lab's admin credentials, and
// binds Lifeboat's ServiceAccount what an operator would for such an app (lab/rbac.ts): the bench's
// Lifeboat runs as configured, least privilege.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Deployment,
} from '@kubernetes/client-node';
import { adminKubeConfig } from '../../lab/admin-credentials.js';
import { grantInNamespaces } from '../../lab/rbac.js';
import { warmStandbyDeployment } from '../../lab/warm-standby.js';
import { unmark } from '../../activities/kubernetes/marks.js';
import { trafficAnnotations } from '../../activities/traffic/switch.js';

export type Site = 'primary' | 'standby';
export const sites: readonly Site[] = ['primary', 'standby'];
export const say = (m: string) => process.stderr.write(`[bench] ${m}\n`);
export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Ready as Lifeboat's waitWorkloadsAvailable counts it: Available, every replica updated, ready and available. */
export function allReplicasAvailable(d: V1Deployment): boolean {
  const want = d.spec?.replicas ?? 1;
  return (
    d.status?.conditions?.find((c) => c.type === 'Available')?.status === 'True' &&
    (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
    (d.status?.updatedReplicas ?? 0) === want &&
    (d.status?.readyReplicas ?? 0) === want &&
    (d.status?.availableReplicas ?? 0) === want
  );
}

/** The annotations a traffic switch leaves on the DNSEndpoint, removed. */
const clearedSwitch = Object.fromEntries(Object.values(trafficAnnotations).map((a) => [a, null]));

export interface BenchAppOptions {
  /** Prefix of the namespace's name (a random suffix follows). */
  prefix: string;
  deploymentCount: number;
  /** How long the app may take to become Available or to settle after a reset. */
  availableTimeoutSeconds: number;
}

export function benchApp(options: BenchAppOptions) {
  const namespace = `${options.prefix}-${randomBytes(4).toString('hex')}`;
  /** 1 or 2 replicas each, alternating: 50 Deployments run 75 Pods. */
  const deployments = Array.from({ length: options.deploymentCount }, (_, i) => ({ name: `svc-${i}`, replicas: i % 2 === 0 ? 2 : 1 }));
  const pods = deployments.reduce((n, d) => n + d.replicas, 0);
  const targets: Record<Site, string[]> = { primary: ['192.0.2.80'], standby: ['198.51.100.80'] };
  const dnsName = `${namespace}.lab.example`;
  const record = (site: Site) => ({ dnsName, recordType: 'A', recordTTL: 30, targets: targets[site] });
  /** The lab's admin credentials: for preparing, resetting and checking the app, never for what Lifeboat does. */
  const kube: Record<Site, KubeConfig> = { primary: adminKubeConfig('primary'), standby: adminKubeConfig('standby') };
  const appsApi = (site: Site) => kube[site].makeApiClient(AppsV1Api);
  const coreApi = (site: Site) => kube[site].makeApiClient(CoreV1Api);
  const dnsEndpointApi = { group: 'externaldns.k8s.io', version: 'v1alpha1', plural: 'dnsendpoints', namespace, name: namespace } as const;

  return {
    namespace,
    deployments,
    pods,
    targets,
    dnsName,
    record,
    kube,
    appsApi,
    coreApi,
    dnsEndpointApi,

    /**
     * Namespace with the Deployments running on primary, the warm standby copy at zero on standby, the
     * DNSEndpoint on standby pointing at primary; the ServiceAccount bound the failover role in the
     * namespace on both sites and the traffic role where the record is (gone with the namespace).
     */
    async create(): Promise<void> {
      for (const site of sites) {
        await coreApi(site).createNamespace({ body: { metadata: { name: namespace } } });
        await grantInNamespaces(
          site,
          [namespace],
          ['lifeboat-failover-workloads', ...(site === 'standby' ? ['lifeboat-failover-traffic'] : [])],
        );
        await Promise.all(
          deployments.map(({ name, replicas }) =>
            appsApi(site).createNamespacedDeployment({ namespace, body: warmStandbyDeployment(name, replicas, site) }),
          ),
        );
      }
      await kube.standby.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
        ...dnsEndpointApi,
        body: {
          apiVersion: 'externaldns.k8s.io/v1alpha1',
          kind: 'DNSEndpoint',
          metadata: { name: namespace },
          spec: { endpoints: [record('primary')] },
        },
      });
    },

    /** Deletes the namespace on both sites, retrying for a minute while an API server is away (other lab users restart them). */
    async remove(): Promise<void> {
      await Promise.all(
        sites.map(async (site) => {
          for (let attempt = 1; ; attempt++) {
            try {
              await coreApi(site).deleteNamespace({ name: namespace });
              return;
            } catch (err) {
              if ((err as { code?: unknown }).code === 404) return;
              if (attempt >= 60) {
                say(`could not delete namespace ${namespace} on ${site}: ${(err as Error).message}; delete it by hand`);
                return;
              }
              await sleep(1000);
            }
          }
        }),
      );
    },

    /** Back to the starting state: primary at its replicas and Available, standby at zero with no Pods left, the record on primary, no failover marks. */
    async reset(): Promise<void> {
      await Promise.all(
        sites.flatMap((site) =>
          deployments.map(({ name, replicas }) =>
            appsApi(site).patchNamespacedDeployment(
              {
                namespace,
                name,
                body: { metadata: unmark(), spec: { replicas: site === 'primary' ? replicas : 0 } },
              },
              mergePatch,
            ),
          ),
        ),
      );
      await kube.standby.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject(
        {
          ...dnsEndpointApi,
          body: { metadata: { annotations: clearedSwitch }, spec: { endpoints: [record('primary')] } },
        },
        mergePatch,
      );
      const deadline = Date.now() + options.availableTimeoutSeconds * 1000;
      let last = '';
      for (;;) {
        try {
          const [primary, standby, standbyPods, primaryPods] = await Promise.all([
            appsApi('primary').listNamespacedDeployment({ namespace }),
            appsApi('standby').listNamespacedDeployment({ namespace }),
            coreApi('standby').listNamespacedPod({ namespace }),
            coreApi('primary').listNamespacedPod({ namespace }),
          ]);
          const settled =
            primary.items.length === deployments.length &&
            primary.items.every(allReplicasAvailable) &&
            primaryPods.items.length === pods &&
            standby.items.every((d) => (d.status?.replicas ?? 0) === 0) &&
            standbyPods.items.length === 0;
          if (settled) break;
          last = `primary ${primary.items.filter(allReplicasAvailable).length}/${deployments.length} Available, ${primaryPods.items.length}/${pods} Pods; standby ${standbyPods.items.length} Pods left`;
        } catch (err) {
          // Other lab users restart API servers; the app settles once they are back.
          last = (err as Error).message;
        }
        if (Date.now() > deadline)
          throw new Error(`the bench app did not settle into its starting state within ${options.availableTimeoutSeconds} s: ${last}`);
        await sleep(250);
      }
      // Let the controllers' last status writes land before the next run starts.
      await sleep(1000);
    },

    /** Checks, outside the timed part, that a run really failed the app over. */
    async checkFailedOver(variant: string): Promise<void> {
      const [primary, standby, dns] = await Promise.all([
        appsApi('primary').listNamespacedDeployment({ namespace }),
        appsApi('standby').listNamespacedDeployment({ namespace }),
        kube.standby.makeApiClient(CustomObjectsApi).getNamespacedCustomObject(dnsEndpointApi) as Promise<{
          spec: { endpoints: { targets: string[] }[] };
        }>,
      ]);
      const problems = [
        ...primary.items.filter((d) => d.spec?.replicas !== 0).map((d) => `primary ${d.metadata!.name} at ${d.spec?.replicas}`),
        ...deployments
          .filter(({ name, replicas }) => standby.items.find((d) => d.metadata!.name === name)?.status?.readyReplicas !== replicas)
          .map(({ name }) => `standby ${name} not ready`),
        ...(JSON.stringify(dns.spec.endpoints[0]?.targets) === JSON.stringify(targets.standby)
          ? []
          : [`record points at ${dns.spec.endpoints[0]?.targets.join(',')}`]),
      ];
      if (problems.length) throw new Error(`${variant} run left the app not failed over: ${problems.slice(0, 5).join('; ')}`);
    },
  };
}

export type BenchApp = ReturnType<typeof benchApp>;

/**
 * Runs one measured run, again (after `reset`) when it fails, at most three times: other lab users
 * stop and restart API servers, which fails a kubectl command or a run outright. Says why it retried.
 */
export async function withRetries<T>(what: string, reset: () => Promise<void>, run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    await reset();
    try {
      return await run();
    } catch (err) {
      if (attempt >= 3) throw err;
      say(`${what} failed (${(err as Error).message.split('\n')[0]}); measuring it again`);
    }
  }
}
