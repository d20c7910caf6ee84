// Unit: the node health watch's rules (model/node-health.ts): unhealthy for longer than unhealthyAfter
// (Ready not True, or a Lease no longer renewed), the storm rule over the cluster and each zone, the
// maxUnhealthy cap counting runs already going, the exclusion label, control-plane Nodes, the pause.
import { describe, expect, it } from '@jest/globals';
import { judgeNodeHealth, type NodeHealthPolicy, type ObservedNode } from '../../model/node-health.js';

const now = new Date('2026-12-02T12:00:00.000Z');
const ago = (s: number) => new Date(now.getTime() - s * 1000).toISOString();
const policy: NodeHealthPolicy = { unhealthyAfterSeconds: 300, maxUnhealthy: 1, stormThreshold: '55%', pause: false };
const node = (name: string, over: Partial<ObservedNode> = {}, zone = 'zone-a'): ObservedNode => ({
  name,
  labels: { 'topology.kubernetes.io/zone': zone },
  ready: 'True',
  readySince: ago(86_400),
  leaseRenewedAt: ago(5),
  controlPlane: false,
  ...over,
});
const dead = (name: string, seconds: number, zone?: string) =>
  node(name, { ready: 'Unknown', readySince: ago(seconds), leaseRenewedAt: ago(seconds) }, zone);
const healthyCluster = (n: number, zones = ['zone-a', 'zone-b', 'zone-c']) =>
  Array.from({ length: n }, (_, i) => node(`n-${i}`, {}, zones[i % zones.length]));

describe('judgeNodeHealth', () => {
  it('remediates a Node unhealthy for longer than unhealthyAfter, not one that just turned', () => {
    const nodes = [...healthyCluster(8), dead('old', 301), dead('new', 120)];
    expect(judgeNodeHealth(nodes, { ...policy, maxUnhealthy: 3 }, now, [])).toEqual({
      unhealthy: [{ node: 'old', since: ago(301), why: 'Ready is Unknown' }],
      remediate: ['old'],
      held: [],
    });
  });

  it('a Lease not renewed for unhealthyAfter counts while Ready still says True', () => {
    const nodes = [...healthyCluster(5), node('stale', { leaseRenewedAt: ago(400) })];
    expect(judgeNodeHealth(nodes, policy, now, []).unhealthy).toEqual([
      { node: 'stale', since: ago(400), why: `its Lease was last renewed at ${ago(400)}` },
    ]);
  });

  it('maxUnhealthy counts the replacements already going, oldest first; a share of the cluster rounds down', () => {
    const nodes = [...healthyCluster(7), dead('a', 900), dead('b', 600), dead('c', 400)];
    const verdict = judgeNodeHealth(nodes, { ...policy, maxUnhealthy: '20%' }, now, ['a']);
    expect(verdict.remediate).toEqual(['b']);
    expect(verdict.held).toEqual([
      { node: 'a', why: 'already being replaced' },
      { node: 'c', why: 'maxUnhealthy 20% reached (2 in remediation)' },
    ]);
  });

  it('a storm (more than 55 % of the Nodes look dead) remediates nothing and says why', () => {
    const nodes = [...healthyCluster(4), dead('a', 600), dead('b', 600), dead('c', 600), dead('d', 30), dead('e', 30)];
    const verdict = judgeNodeHealth(nodes, { ...policy, maxUnhealthy: 10 }, now, []);
    expect(verdict.remediate).toEqual([]);
    expect(verdict.stopped).toBe(
      'storm: 5 of 9 Nodes look unhealthy at once (more than 55%): a network partition or a control-plane problem, not the Nodes; nothing is remediated',
    );
    expect(verdict.held.map((h) => h.why)).toEqual(['storm', 'storm', 'storm']);
  });

  it("a zone's storm too, while the cluster as a whole is under the threshold", () => {
    const nodes = [
      ...healthyCluster(6, ['zone-a', 'zone-b']),
      dead('c-0', 600, 'zone-c'),
      dead('c-1', 600, 'zone-c'),
      node('c-2', {}, 'zone-c'),
    ];
    const verdict = judgeNodeHealth(nodes, { ...policy, maxUnhealthy: 5 }, now, []);
    expect(verdict.stopped).toBe('storm in zone zone-c: 2 of 3 Nodes look unhealthy at once (more than 55%): nothing is remediated');
    expect(verdict.remediate).toEqual([]);
  });

  it('never a control-plane Node, never an excluded one; a pause holds everything', () => {
    const nodes = [
      ...healthyCluster(8),
      { ...dead('cp', 600), controlPlane: true },
      { ...dead('pet', 600), labels: { 'lifeboat.io/exclude-from-remediation': 'true' } },
      dead('w', 600),
    ];
    const verdict = judgeNodeHealth(nodes, { ...policy, maxUnhealthy: 5 }, now, []);
    expect(verdict.remediate).toEqual(['w']);
    expect(verdict.held).toEqual([
      { node: 'cp', why: 'a control-plane Node: its etcd member is replaced, not the Node' },
      { node: 'pet', why: 'labelled lifeboat.io/exclude-from-remediation' },
    ]);
    const paused = judgeNodeHealth(nodes, { ...policy, maxUnhealthy: 5, pause: true }, now, []);
    expect([paused.remediate, paused.stopped]).toEqual([[], 'paused (clusters[].nodeHealth.pause): nothing is remediated']);
  });

  it('a healthy cluster: nothing unhealthy, nothing to do', () => {
    expect(judgeNodeHealth(healthyCluster(3), policy, now, [])).toEqual({ unhealthy: [], remediate: [], held: [] });
  });
});
