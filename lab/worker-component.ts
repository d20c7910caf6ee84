// A Lifeboat worker run as a lab process (`lab up --with-worker`), for the demo.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LabComponent } from './components.js';
import { httpProbe } from './probes.js';
import { host, labConfigFile } from './topology.js';

const metricsPort = 9464;
const cli = fileURLToPath(new URL('../../bin/lifeboat.js', import.meta.url));
const dist = fileURLToPath(new URL('..', import.meta.url));

/** The newest compiled file's time: part of the worker's spec, so `lab up` restarts it after a rebuild. */
function buildId(): string {
  let newest = 0;
  for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.js')) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return String(newest);
}

export const workerComponent: LabComponent = {
  name: 'worker',
  address: `http://${host}:${metricsPort}/metrics`,
  after: ['temporal'],
  daemon: {
    name: 'worker',
    command: process.execPath,
    args: [cli, 'worker'],
    env: { LIFEBOAT_CONFIG: labConfigFile, LIFEBOAT_BUILD_ID: buildId() },
  },
  probe: () => httpProbe(`http://${host}:${metricsPort}/metrics`).then((r) => (r.ok ? { ok: true, detail: 'polling' } : r)),
};
