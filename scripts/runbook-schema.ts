// Writes runbooks/runbook.schema.json from the zod schema; a test fails when the committed file drifts.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runbookJsonSchema, runbookJsonSchemaPath } from '../model/runbook/json-schema.js';

const target = fileURLToPath(new URL(`../../${runbookJsonSchemaPath}`, import.meta.url));
writeFileSync(target, runbookJsonSchema());
console.log(`wrote ${runbookJsonSchemaPath}`);
