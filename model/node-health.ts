// Which Nodes the node health watch may remediate, and when it must not: the rules of Cluster API's
// MachineHealthCheck (unhealthy for longer than a timeout, a cap on remediations at once) and Medik8s
// NodeHealthCheck (an exclusion label, a pause), and the node lifecycle controller's storm rule (when
// more than a share of a cluster's or a zone's Nodes look dead at once, the fault is the network or
// the control plane, not the Nodes: remediate nothing). Pure: the watch's workflow and activity share it.
import { excludeFromRemediationLabel, nodesOf, type NodeCount } from './node-replacement.js';

/** A Node as the watch sees it. */
export interface ObservedNode {
  name: string;
  labels: Record<string, string>;
  /** The Ready condition's status, undefined when the Node has never reported one. */
  ready?: 'True' | 'False' | 'Unknown';
  /** When the Ready condition last changed (ISO). */
  readySince?: string;
  /** When the kubelet last renewed its Lease (ISO); undefined when it has none. */
  leaseRenewedAt?: string;
  controlPlane: boolean;
}

export interface NodeHealthPolicy {
  unhealthyAfterSeconds: number;
  /** At most this many Nodes in remediation at once (a count, or a share of the cluster's Nodes). */
  maxUnhealthy: NodeCount;
  /** More than this share of the cluster's (or a zone's) Nodes not Ready at once is a storm. */
  stormThreshold: `${number}%`;
  pause: boolean;
}

export interface UnhealthyNode {
  node: string;
  /** Since when it has been unhealthy (ISO). */
  since: string;
  why: string;
}

export interface NodeHealthVerdict {
  /** Unhealthy for longer than the policy's unhealthyAfter. */
  unhealthy: UnhealthyNode[];
  /** What the watch starts a replacement for now. */
  remediate: string[];
  /** Unhealthy, but not remediated now, with why. */
  held: { node: string; why: string }[];
  /** Why nothing at all is remediated (a storm, a pause), when so. */
  stopped?: string;
}

const zoneLabel = 'topology.kubernetes.io/zone';
const percent = (share: `${number}%`) => Number(share.slice(0, -1));

/** How long `n` has been unhealthy at `now`, and why, or undefined while it is healthy. */
function unhealthySince(n: ObservedNode, now: number, unhealthyAfterMs: number): { since: number; why: string } | undefined {
  if (n.ready !== 'True') {
    const since = n.readySince ? Date.parse(n.readySince) : 0;
    return { since, why: `Ready is ${n.ready ?? 'not reported'}` };
  }
  // Ready still says True, but the kubelet stopped renewing its Lease: it is gone and the lifecycle controller has not noticed yet.
  if (n.leaseRenewedAt !== undefined && now - Date.parse(n.leaseRenewedAt) > unhealthyAfterMs) {
    return { since: Date.parse(n.leaseRenewedAt), why: `its Lease was last renewed at ${n.leaseRenewedAt}` };
  }
  return undefined;
}

/**
 * The watch's verdict over a cluster's Nodes at `now`, given the Nodes already in remediation (their
 * replacement runs still going). Control-plane Nodes are never remediated (held), nor excluded ones.
 */
export function judgeNodeHealth(
  nodes: ObservedNode[],
  policy: NodeHealthPolicy,
  now: Date,
  inRemediation: readonly string[],
): NodeHealthVerdict {
  const t = now.getTime();
  const after = policy.unhealthyAfterSeconds * 1000;
  const looks = nodes.map((n) => ({ n, bad: unhealthySince(n, t, after) }));
  const unhealthy: UnhealthyNode[] = looks
    .filter(({ bad }) => bad !== undefined && t - bad.since >= after)
    .map(({ n, bad }) => ({ node: n.name, since: new Date(bad!.since).toISOString(), why: bad!.why }))
    .sort((a, b) => a.since.localeCompare(b.since) || a.node.localeCompare(b.node));

  // A storm: counted over every Node that looks unhealthy now, however briefly, as the lifecycle controller counts.
  const threshold = percent(policy.stormThreshold);
  const share = (group: typeof looks) => (100 * group.filter((x) => x.bad).length) / group.length;
  let stopped: string | undefined;
  if (nodes.length && share(looks) > threshold) {
    stopped = `storm: ${looks.filter((x) => x.bad).length} of ${nodes.length} Nodes look unhealthy at once (more than ${policy.stormThreshold}): a network partition or a control-plane problem, not the Nodes; nothing is remediated`;
  } else {
    const zones = [...new Set(nodes.map((n) => n.labels[zoneLabel]).filter((z): z is string => z !== undefined))].sort();
    for (const zone of zones) {
      const inZone = looks.filter((x) => x.n.labels[zoneLabel] === zone);
      if (inZone.length > 1 && share(inZone) > threshold) {
        stopped = `storm in zone ${zone}: ${inZone.filter((x) => x.bad).length} of ${inZone.length} Nodes look unhealthy at once (more than ${policy.stormThreshold}): nothing is remediated`;
        break;
      }
    }
  }
  if (!stopped && policy.pause) stopped = 'paused (clusters[].nodeHealth.pause): nothing is remediated';

  const byName = new Map(nodes.map((n) => [n.name, n]));
  const held: NodeHealthVerdict['held'] = [];
  const remediate: string[] = [];
  let budget = nodesOf(policy.maxUnhealthy, nodes.length) - inRemediation.length;
  for (const u of unhealthy) {
    const n = byName.get(u.node)!;
    if (inRemediation.includes(u.node)) held.push({ node: u.node, why: 'already being replaced' });
    else if (stopped) held.push({ node: u.node, why: stopped.split(':')[0]! });
    else if (n.controlPlane) held.push({ node: u.node, why: 'a control-plane Node: its etcd member is replaced, not the Node' });
    else if (n.labels[excludeFromRemediationLabel] !== undefined)
      held.push({ node: u.node, why: `labelled ${excludeFromRemediationLabel}` });
    else if (budget <= 0)
      held.push({
        node: u.node,
        why: `maxUnhealthy ${String(policy.maxUnhealthy)} reached (${inRemediation.length + remediate.length} in remediation)`,
      });
    else {
      remediate.push(u.node);
      budget--;
    }
  }
  return { unhealthy, remediate, held, ...(stopped ? { stopped } : {}) };
}
