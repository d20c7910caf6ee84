// A shipped runbook document as the CLI starts it: read from runbooks/, validated with the real block
// registry, its parameters resolved (defaults applied, types checked), hashed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { contentHash } from '../../cli/runbook-documents.js';
import { parseRunbook } from '../../model/runbook/parse.js';
import { runbookBlocks } from '../../model/runbook/registry.js';
import type { ParameterValue, RunbookInput } from '../../model/runbook/run.js';
import { resolveParameters } from '../../model/runbook/validate.js';

export function findRunbookIn(
  dir: string,
  name: string,
  given: Record<string, ParameterValue>,
  {
    startedBy = 'jest',
    approverGroups = { sre: ['alice', 'bob', 'carol'] },
  }: { startedBy?: string; approverGroups?: Record<string, string[]> } = {},
): RunbookInput {
  const file = join(dir, `${name}.yaml`);
  const text = readFileSync(file, 'utf8');
  const parsed = parseRunbook(file, text, { blocks: runbookBlocks, approverGroups });
  if (!parsed.ok) throw new Error(`${name}: ${JSON.stringify(parsed.problems)}`);
  const params = resolveParameters(parsed.document.parameters, given);
  if (!params.ok) throw new Error(`${name}: ${params.problems.join('; ')}`);
  return {
    document: parsed.document,
    contentHash: contentHash(text),
    source: `runbooks/${name}.yaml`,
    parameters: params.values,
    startedBy,
    approverGroups,
  };
}
