import type { z } from 'zod';
import type { RetryProfileName } from './retry-profiles.js';

/**
 * A building block that a runbook step names: a workflow (`run:`, started as a child workflow) or
 * an activity (`action:`). The coordinator registers the real ones; the validator only needs this
 * contract.
 */
export interface BuildingBlock {
  /** The name a document writes after `run:` or `action:`, e.g. `etcdSnapshot`, `scaleDeployment`. */
  readonly name: string;
  /** `workflow` blocks are written `run:`, `activity` blocks `action:`. */
  readonly kind: 'workflow' | 'activity';
  /** One line for `lifeboat runbook list` and editors. */
  readonly description: string;
  /** Schema of the step's `with:`; literal values are checked against it when a document loads. */
  readonly input: z.ZodType;
  /** Retry profile used when the step names none. Default: `standard` (see retry-profiles.ts). */
  readonly defaultRetry?: RetryProfileName;
  /** True when the block changes nothing, so a plan (dry run) may execute it. Default: false. */
  readonly readOnly?: boolean;
}

/** Building blocks by name. */
export type BlockRegistry = ReadonlyMap<string, BuildingBlock>;

/** Error for a registry that names one block twice: the second would silently shadow the first. */
export class DuplicateBlockError extends Error {
  constructor(readonly blockName: string) {
    super(`building block "${blockName}" is defined twice`);
    this.name = 'DuplicateBlockError';
  }
}

export function defineBlocks(blocks: readonly BuildingBlock[]): BlockRegistry {
  const registry = new Map<string, BuildingBlock>();
  for (const block of blocks) {
    if (registry.has(block.name)) throw new DuplicateBlockError(block.name);
    registry.set(block.name, block);
  }
  return registry;
}
