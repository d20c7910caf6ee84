#!/usr/bin/env node
// The `lifeboat` command runs the compiled CLI; `npm run build` produces it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The project's own Node.js (the npm devDependency `node`, first on PATH under npm and npx) is the one
// it is tested on; an older one on PATH fails later with less clear errors.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `lifeboat: needs Node.js 24 or later, this is ${process.version} (${process.execPath}); run it as \`npx lifeboat\` or through npm, which use the project's Node.js 24.\n`,
  );
  process.exit(2);
}

const entry = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(entry)) {
  process.stderr.write('lifeboat: dist/cli/main.js is missing; run `npm run build` first.\n');
  process.exit(2);
}
await import(entry);
