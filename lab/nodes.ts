// Killing a lab Node the way a dead kubelet looks, and bringing it back. The lab's kwok simulates the
// kubelet of every Node not labelled lifeboat.io/lab-kubelet=stopped (activities/node-provider/kwok.ts);
// with the label, nothing renews the Node's Lease or status any more, and the node lifecycle controller
// marks it Ready=Unknown and taints it node.kubernetes.io/unreachable within kube-controller-manager's
// --node-monitor-grace-period (20 s in the lab). Its Pods keep their last status, as with a dead
// kubelet. Only for Nodes a test or the demo made: other suites run on the lab's own Nodes.
import type { KubeConfig } from '@kubernetes/client-node';
import { setKubeletStopped } from '../activities/node-provider/kwok.js';

/** kwok stops simulating the Node's kubelet: no more Lease renewals, status updates or Pod updates. */
export async function killNode(kubeConfig: KubeConfig, node: string): Promise<void> {
  await setKubeletStopped(kubeConfig, node, true);
}

/** kwok simulates the Node's kubelet again: it renews the Lease and the Node goes Ready. */
export async function reviveNode(kubeConfig: KubeConfig, node: string): Promise<void> {
  await setKubeletStopped(kubeConfig, node, false);
}
