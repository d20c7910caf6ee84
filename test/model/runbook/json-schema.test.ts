import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runbookJsonSchema, runbookJsonSchemaPath } from '../../../model/runbook/json-schema.js';

const committedPath = fileURLToPath(new URL(`../../../../${runbookJsonSchemaPath}`, import.meta.url));

describe('runbooks/runbook.schema.json', () => {
  it('is what the zod schema generates (regenerate: npx tsc -p tsconfig.json && node dist/scripts/runbook-schema.js)', () => {
    const committed = readFileSync(committedPath, 'utf8');
    if (committed !== runbookJsonSchema()) {
      throw new Error(
        `${runbookJsonSchemaPath} is out of date with model/runbook/schema.ts; regenerate it: npx tsc -p tsconfig.json && node dist/scripts/runbook-schema.js`,
      );
    }
    expect(JSON.parse(committed)).toMatchObject({
      $schema: 'http://json-schema.org/draft-07/schema#',
      required: ['apiVersion', 'kind', 'metadata', 'steps'],
    });
  });
});
