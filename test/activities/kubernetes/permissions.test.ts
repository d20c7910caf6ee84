// Unit: what Lifeboat advises when the API refuses a call of the network partition runbook's, for the
// worker's ServiceAccount and for the site witness's own (activities/kubernetes/permissions.ts).
import { describe, expect, it } from '@jest/globals';
import { describeRefusal } from '../../../activities/kubernetes/permissions.js';

const refusal = (user: string, verb: string) =>
  `leases.coordination.k8s.io "peer-primary" is forbidden: User "system:serviceaccount:lifeboat-system:${user}" cannot ${verb} resource "leases" in API group "coordination.k8s.io" in the namespace "lifeboat-system"`;

describe('refusals of the network partition roles', () => {
  it("the site witness is told to bind its own role, never the worker's", () => {
    expect(describeRefusal(refusal('lifeboat-witness', 'update'))).toBe(
      "Lifeboat's ServiceAccount lifeboat-system/lifeboat-witness may not update leases.coordination.k8s.io/peer-primary in namespace lifeboat-system: bind the ClusterRole lifeboat-site-witness in namespace lifeboat-system (the network-partition runbooks: deploy/kubernetes/components/network-partition)",
    );
  });

  it("the worker reading a witness's Lease is told which of its roles grant it, not the witness's", () => {
    const advice = describeRefusal(refusal('lifeboat', 'get'));
    expect(advice).toMatch(/bind the ClusterRole lifeboat-network-partition in namespace lifeboat-system/);
    expect(advice).not.toMatch(/lifeboat-site-witness/);
    expect(describeRefusal(refusal('lifeboat', 'update'))).toMatch(/no Lifeboat role grants it/);
  });
});
