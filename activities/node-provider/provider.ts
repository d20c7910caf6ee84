// What Lifeboat asks of a node provider: power a Node off (or confirm it is off) before its volumes are
// released, and provision a replacement in the same pool. One implementation per kind of
// `clusters[].nodeProvider` (kwok.ts, webhook.ts); the activities (index.ts) choose by configuration.
import type { NodePool } from '../../model/node-replacement.js';

/** Resources a new Node reports: the old Node's, when the caller has them. */
export interface NodeResources {
  capacity: Record<string, string>;
  allocatable: Record<string, string>;
}

export interface PowerOffRequest {
  cluster: string;
  node: string;
  /** Stable across the attempts of one run: `<workflowId>/<runId>/power-off`. */
  idempotencyKey: string;
}

export interface ProvisionRequest {
  cluster: string;
  /** The Node being replaced. */
  replacing: string;
  /** The new Node's labels (with Lifeboat's `provisioned-by` and `replaces`) and taints. */
  pool: NodePool;
  /** The run asking; the new Node's name and labels derive from it. */
  runId: string;
  /** Stable across the attempts of one run: `<workflowId>/<runId>/provision`. */
  idempotencyKey: string;
  resources?: NodeResources;
}

export interface NodeProvider {
  /** Powers the Node off, or confirms it is off; `off: false` when the provider cannot confirm it. `how` says which, for the report. */
  powerOff(request: PowerOffRequest): Promise<{ off: boolean; how: string }>;
  /** Asks for a replacement; idempotent per run: a retry gets the same Node, `created: false`. */
  provision(request: ProvisionRequest): Promise<{ node: string; created: boolean }>;
}

/** Labels Lifeboat puts on a Node it provisions: which run made it, and which Node it replaces. */
export const provisionLabels = {
  provisionedBy: 'lifeboat.io/provisioned-by',
  replaces: 'lifeboat.io/replaces',
} as const;
