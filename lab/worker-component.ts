// A Lifeboat worker run as a lab process (`lab up --with-worker`), for the demo.
import { fileURLToPath } from 'node:url';
import type { LabComponent } from './components.js';
import { httpProbe } from './probes.js';
import { host, labConfigFile } from './topology.js';

const metricsPort = 9464;
const cli = fileURLToPath(new URL('../../bin/lifeboat.js', import.meta.url));

export const workerComponent: LabComponent = {
  name: 'worker',
  address: `http://${host}:${metricsPort}/metrics`,
  after: ['temporal'],
  daemon: { name: 'worker', command: process.execPath, args: [cli, 'worker'], env: { LIFEBOAT_CONFIG: labConfigFile } },
  probe: () => httpProbe(`http://${host}:${metricsPort}/metrics`).then((r) => (r.ok ? { ok: true, detail: 'polling' } : r)),
};
