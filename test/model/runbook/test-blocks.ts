// Building blocks for the parser's tests only; the coordinator registers the real ones.
import { z } from 'zod';
import { defineBlocks } from '../../../model/runbook/blocks.js';

export const testBlocks = defineBlocks([
  {
    name: 'clusterHealth',
    kind: 'workflow',
    description: 'Checks a cluster.',
    input: z.strictObject({ cluster: z.string() }),
    readOnly: true,
  },
  {
    name: 'etcdSnapshot',
    kind: 'workflow',
    description: 'Snapshots etcd.',
    input: z.strictObject({ cluster: z.string(), retention: z.int().min(1).optional() }),
  },
  {
    name: 'scaleDeployment',
    kind: 'activity',
    description: 'Scales a Deployment.',
    input: z.strictObject({ cluster: z.string(), namespace: z.string(), name: z.string(), replicas: z.int().min(0) }),
    defaultRetry: 'quick',
  },
  {
    name: 'cordonNode',
    kind: 'activity',
    description: 'Cordons a Node.',
    input: z.strictObject({ cluster: z.string(), node: z.string() }),
  },
  {
    name: 'uncordonNode',
    kind: 'activity',
    description: 'Uncordons a Node.',
    input: z.strictObject({ cluster: z.string(), node: z.string() }),
  },
  {
    name: 'notify',
    kind: 'activity',
    description: 'Posts a message.',
    input: z.strictObject({ channel: z.string(), message: z.string(), labels: z.array(z.string()).optional() }),
    readOnly: true,
  },
]);

export const approverGroups = { sre: ['alice', 'bob'], dba: ['carol'] };
