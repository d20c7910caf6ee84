// One Deployment of a throwaway warm-standby app (failover tests, the failover benchmark), as it stands
// on each site: running on primary; on standby at zero replicas, annotated with the count it takes over
// with. Its Pods run on kwok's fake Nodes; nothing pulls the image.
import type { V1Deployment } from '@kubernetes/client-node';

export function warmStandbyDeployment(name: string, replicas: number, site: 'primary' | 'standby'): V1Deployment {
  return {
    metadata: { name, ...(site === 'standby' ? { annotations: { 'lifeboat.io/failover-replicas': String(replicas) } } : {}) },
    spec: {
      replicas: site === 'primary' ? replicas : 0,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          nodeSelector: { type: 'kwok' },
          containers: [{ name, image: `registry.example/${name}:1`, resources: { requests: { cpu: '10m', memory: '16Mi' } } }],
        },
      },
    },
  };
}
