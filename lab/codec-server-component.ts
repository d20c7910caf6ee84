// The lab's codec server (`lifeboat codec-server`), so the lab's Temporal UI shows the encrypted history
// decoded. The dev server's UI has no login and cannot send an Authorization header, so its codec
// endpoint carries the token as the first path segment (codecServer.tokenInPath); everything else
// (the tests, `temporal --codec-auth`) sends it as a bearer token.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LabComponent } from './components.js';
import type { ProbeResult } from './probes.js';
import { host, labConfigFile, labDir, temporalPorts } from './topology.js';

export const codecServerPort = 8234;
/** The codec server's bearer token (generated once by `lab up`, mode 0600). */
export const labCodecTokenFile = join(labDir, 'keys', 'codec-server.token');
export const labUiOrigin = `http://${host}:${temporalPorts.ui}`;
const cli = fileURLToPath(new URL('../../bin/lifeboat.js', import.meta.url));
const base = `http://${host}:${codecServerPort}`;

/** The lab configuration's codecServer block. */
export const labCodecServerConfig = {
  listen: `${host}:${codecServerPort}`,
  uiOrigin: labUiOrigin,
  tokenFile: labCodecTokenFile,
  tokenInPath: true,
};

const token = () => (existsSync(labCodecTokenFile) ? readFileSync(labCodecTokenFile, 'utf8').trim() : undefined);

/** `--ui-codec-endpoint` for the dev server's UI, once `lab up` has made the token. */
export const uiCodecEndpointArgs = (): string[] => {
  const t = token();
  return t ? ['--ui-codec-endpoint', `${base}/${t}`] : [];
};

export const codecServerComponent: LabComponent = {
  name: 'codec-server',
  address: `${base} (ui origin ${labUiOrigin})`,
  after: [],
  daemon: {
    name: 'codec-server',
    command: process.execPath,
    args: [cli, 'codec-server'],
    env: { LIFEBOAT_CONFIG: labConfigFile },
  },
  // A decode of nothing with the token: the server is up, has its keys and takes the token.
  probe: async (): Promise<ProbeResult> => {
    try {
      const res = await fetch(`${base}/decode`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token() ?? ''}`, 'content-type': 'application/json' },
        body: '{"payloads":[]}',
        signal: AbortSignal.timeout(3_000),
      });
      return res.ok ? { ok: true, detail: 'decoding' } : { ok: false, detail: `HTTP ${res.status}` };
    } catch (err) {
      return { ok: false, detail: (err as Error).message };
    }
  },
};
