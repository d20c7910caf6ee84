#!/usr/bin/env node
// The `lifeboat` command runs the compiled CLI; `npm run build` produces it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The AWS SDK announces, on every start under Node 20, that releases after January 2027 will need
// Node 22. Lifeboat pins its SDK version exactly, so the notice says nothing about this install and
// would only bury real messages; every other warning still prints.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = (warning, ...rest) => {
  if (String(warning).startsWith('NodeVersionSupportWarning')) return;
  emitWarning(warning, ...rest);
};

const entry = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(entry)) {
  process.stderr.write('lifeboat: dist/cli/main.js is missing; run `npm run build` first.\n');
  process.exit(2);
}
await import(entry);
