// The project runs on the Node.js it pins (the npm devDependency `node`), and the worker image on the
// same major: npm scripts, the lab worker and these tests all run on it whatever `node` the machine has.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';

const root = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  engines: { node: string };
  devDependencies: Record<string, string>;
};
const pinned = pkg.devDependencies.node!;
const major = (version: string) => Number(version.replace(/^v/, '').split('.')[0]);

describe('Node.js runtime', () => {
  test('the tests run on the pinned Node.js', () => {
    expect(pinned).toMatch(/^24\.\d+\.\d+$/);
    expect(process.versions.node).toBe(pinned);
    expect(pkg.engines.node).toBe('>=24.11.0');
  });

  test('the worker image builds and runs on the same major', () => {
    const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8');
    const froms = [...dockerfile.matchAll(/^FROM node:(\d+)-/gm)].map((m) => Number(m[1]));
    expect(froms).toEqual([major(pinned), major(pinned)]);
  });
});
