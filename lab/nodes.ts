// Killing a lab Node the way a dead kubelet looks, and bringing it back. kwok simulates the kubelet of
// each Node that carries its annotation (lab/components.ts); without it kwok stops renewing the Node's
// Lease and status, so the node lifecycle controller marks it Ready=Unknown and taints it
// node.kubernetes.io/unreachable within kube-controller-manager's --node-monitor-grace-period (20 s).
// Its Pods keep their last status, as with a dead kubelet. Only for Nodes a test or the demo made:
// other suites run on the lab's own Nodes.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { kwokManagedAnnotation } from '../activities/node-provider/kwok.js';
import { mergePatch } from '../activities/kubernetes/deployments.js';

const setKwokAnnotation = (kubeConfig: KubeConfig, node: string, value: string | null) =>
  kubeConfig
    .makeApiClient(CoreV1Api)
    .patchNode({ name: node, body: { metadata: { annotations: { [kwokManagedAnnotation.key]: value } } } }, mergePatch);

/** kwok stops simulating the Node's kubelet: no more Lease renewals or status updates. */
export async function killNode(kubeConfig: KubeConfig, node: string): Promise<void> {
  await setKwokAnnotation(kubeConfig, node, null);
}

/** kwok simulates the Node's kubelet again: its Lease is renewed and it goes Ready. */
export async function reviveNode(kubeConfig: KubeConfig, node: string): Promise<void> {
  await setKwokAnnotation(kubeConfig, node, kwokManagedAnnotation.value);
}
