#!/usr/bin/env node
// The `lifeboat` command runs the compiled CLI; `npm run build` produces it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(entry)) {
  process.stderr.write('lifeboat: dist/cli/main.js is missing; run `npm run build` first.\n');
  process.exit(2);
}
await import(entry);
