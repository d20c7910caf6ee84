// What a failover's activities answer for a warm-standby app `shop` (primary → standby) on a healthy
// lab, for the time-skipping suites that run the real workflow with stubbed activities; a test
// overrides the answers that differ.
import type { FailoverPreflight } from '../../activities/kubernetes/workloads.js';
import type { Workload } from '../../activities/kubernetes/deployments.js';
import type { SwitchTrafficInput } from '../../activities/traffic/switch.js';

export interface ShopOptions {
  workloads?: Workload[];
  /** Each workload's replicas. Default: 1. */
  replicas?: number;
  /** The source's API answers. Default: true. */
  reachable?: boolean;
}

const unreachableDetail = 'no answer within 5 s';

/** Preflight of shop with the configured approval timeout of 10 minutes; `overrides` replace fields. */
export function shopPreflight(
  { workloads = [{ namespace: 'shop', name: 'cart' }], replicas = 1, reachable = true }: ShopOptions = {},
  overrides: Partial<FailoverPreflight> = {},
): FailoverPreflight {
  return {
    app: 'shop',
    from: { cluster: 'primary', reachable, healthy: reachable, detail: reachable ? '3/3 Nodes Ready and schedulable' : unreachableDetail },
    to: { cluster: 'standby', reachable: true, healthy: true, detail: '3/3 Nodes Ready and schedulable' },
    mode: 'warm-standby',
    namespaces: ['shop'],
    workloads: workloads.map((w) => ({
      ...w,
      replicas,
      replicasFrom: "primary's spec.replicas",
      cpuMilli: 100,
      memoryBytes: 64 * 1024 ** 2,
    })),
    capacity: {
      neededCpuMilli: 100 * replicas * workloads.length,
      neededMemoryBytes: 64 * 1024 ** 2 * replicas * workloads.length,
      freeCpuMilli: 12_000,
      freeMemoryBytes: 48 * 1024 ** 3,
      ok: true,
      detail: 'enough on standby',
    },
    blockers: [],
    warnings: [],
    objectives: { rtoSeconds: 600, rpoSeconds: 86_400 },
    traffic: {
      provider: 'externalDNS',
      description: "DNSEndpoint lifeboat-traffic/shop on 'standby': shop.lab.example A → 198.51.100.10",
      attempts: 5,
      timeoutSeconds: 20,
    },
    approvalTimeoutSeconds: 600,
    availableTimeoutSeconds: 120,
    velero: { namespace: 'velero', timeoutSeconds: 300 },
    ...overrides,
  };
}

/** Every activity a failover calls, each answering as a healthy lab would, after `preflight`. */
export function shopFailoverStubs(preflight: FailoverPreflight) {
  const replicas = preflight.workloads[0]?.replicas ?? 1;
  return {
    preflightFailover: () => Promise.resolve(preflight),
    fenceWorkloads: ({ workloads: ws }: { workloads: Workload[] }) =>
      Promise.resolve({ fenced: ws.map((w) => ({ ...w, previousReplicas: replicas })) }),
    unfenceWorkloads: ({ workloads: ws }: { workloads: Workload[] }) => Promise.resolve({ unfenced: ws }),
    activateWorkloads: ({ workloads: ws }: { workloads: Workload[] }) => Promise.resolve({ activated: ws }),
    activateAsSourceStops: ({ workloads: ws }: { workloads: Workload[] }) =>
      Promise.resolve({ activated: ws, firstActivatedAt: new Date().toISOString() }),
    deactivateWorkloads: ({ workloads: ws }: { workloads: Workload[] }) => Promise.resolve({ deactivated: ws }),
    waitWorkloadsAvailable: ({ workloads: ws, since }: { workloads: Workload[]; since: string }) =>
      Promise.resolve({ availableAt: since, secondsSinceStart: 1, workloads: ws.map((w) => ({ ...w, readyReplicas: replicas })) }),
    switchTraffic: (i: SwitchTrafficInput) => Promise.resolve({ changed: true, activeCluster: i.to, detail: `record points at '${i.to}'` }),
    trafficStatus: () => Promise.resolve({ provider: 'externalDNS', activeCluster: 'standby', detail: "record points at 'standby'" }),
  };
}
