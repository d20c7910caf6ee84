import { z } from 'zod';
import { runbookSchema } from './schema.js';

/** The editor schema, from the one zod schema. `io: 'input'` so fields with defaults are optional. */
export function runbookJsonSchema(): string {
  const schema = z.toJSONSchema(runbookSchema, { io: 'input', target: 'draft-7', unrepresentable: 'any' });
  return `${JSON.stringify({ ...schema, title: 'Lifeboat runbook (lifeboat.io/v1)' }, null, 2)}\n`;
}

/** Where the schema is committed, relative to the repository root. */
export const runbookJsonSchemaPath = 'runbooks/runbook.schema.json';
