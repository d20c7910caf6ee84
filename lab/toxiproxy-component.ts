// The lab's fault proxy (Toxiproxy): its API on a loopback port of its own; `lab up` then creates a
// proxy for every path Lifeboat uses (lab/faults.ts). Faults vanish with the process: a restart of it
// starts with none.
import type { LabComponent } from './components.js';
import { labToxiproxyUrl } from './faults.js';
import { httpProbe } from './probes.js';
import { bin, host, toxiproxyPort } from './topology.js';

export const toxiproxyComponent: LabComponent = {
  name: 'toxiproxy',
  address: labToxiproxyUrl,
  after: [],
  // Its default level logs every API call and toxic update at debug; info keeps proxy starts and connections.
  daemon: {
    name: 'toxiproxy',
    command: bin.toxiproxyServer,
    args: ['-host', host, '-port', String(toxiproxyPort)],
    env: { LOG_LEVEL: 'info' },
  },
  probe: async () => {
    const res = await httpProbe(`${labToxiproxyUrl}/proxies`);
    if (!res.ok) return res;
    const proxies = Object.values(JSON.parse(res.body) as Record<string, { enabled: boolean; toxics: unknown[] }>);
    const faulted = proxies.filter((p) => !p.enabled || p.toxics.length > 0).length;
    return { ok: true, detail: `${proxies.length} proxies, ${faulted} with faults` };
  },
};
