// Unit: the codecServer block of the configuration: defaults, and errors that name the file, the line,
// the field and what was expected. No lab needed: the files it names are made here.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../worker/config.js';
import { problemsOf } from '../helpers/config-problems.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-codec-config-'));
const f = (name: string) => join(dir, name);
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(f('k'), 'contexts: [{ name: c, context: {} }]\ncurrent-context: c\n');
for (const name of ['ca', 'crt', 'key']) writeFileSync(f(name), 'PEM\n');
writeFileSync(f('k1.key'), `${Buffer.alloc(32, 7).toString('base64')}\n`, { mode: 0o600 });
writeFileSync(f('token'), `${'t'.repeat(40)}\n`, { mode: 0o600 });
writeFileSync(f('loose-token'), `${'t'.repeat(40)}\n`);
chmodSync(f('loose-token'), 0o640);

// Line numbers below are this text's: `codecServer:` is line 9.
const base = (codecServer: string, encryption = true) => {
  const file = f(`${Math.random()}.yaml`);
  writeFileSync(
    file,
    `objectStore: { bucket: backups }
clusters:
  - name: primary
    kubeconfig: ${f('k')}
    etcd: { endpoints: [https://e:2379], caFile: ${f('ca')}, certFile: ${f('crt')}, keyFile: ${f('key')} }
${encryption ? `encryption:\n  currentKeyId: k1\n  keys: [{ id: k1, file: ${f('k1.key')} }]\n` : '\n\n\n'}codecServer:
${codecServer}`,
  );
  return file;
};

describe('codecServer configuration', () => {
  it('defaults: loopback on 8888, no token in the path; the UI origin as an origin', () => {
    const config = loadConfig({ file: base(`  tokenFile: ${f('token')}\n  uiOrigin: https://ui.example:8443/\n`), env: {} });
    expect(config.codecServer).toEqual({
      listen: '127.0.0.1:8888',
      tokenFile: f('token'),
      uiOrigin: 'https://ui.example:8443',
      tokenInPath: false,
    });
  });

  it('names the file, line and field of each mistake', () => {
    const both = base(`  tokenFile: ${f('token')}\n  tokenEnv: CODEC_TOKEN\n`);
    expect(problemsOf(both)).toEqual([`${both}:10:3: codecServer: exactly one of tokenFile or tokenEnv`]);
    const withPath = base(`  tokenEnv: CODEC_TOKEN\n  uiOrigin: https://ui.example/temporal\n  listen: 8888\n`);
    expect(problemsOf(withPath)).toEqual([
      `${withPath}:12:11: codecServer.listen: Invalid input: expected string, received number`,
      `${withPath}:11:13: codecServer.uiOrigin: an origin: scheme://host[:port], no path`,
    ]);
    const noKeys = base(`  tokenEnv: CODEC_TOKEN\n`, false);
    expect(problemsOf(noKeys)).toEqual([
      `${noKeys}:10:3: codecServer: the codec server decodes with the history keys, and the configuration has no encryption block; expected encryption.currentKeyId and encryption.keys`,
    ]);
  });

  it('refuses a token file that group or others may read, as ssh refuses such a key', () => {
    const loose = base(`  tokenFile: ${f('loose-token')}\n`);
    expect(problemsOf(loose)).toEqual([
      `${loose}:10:14: codecServer.tokenFile: '${f('loose-token')}': mode 0640 is too open: its group may access it; expected a file only its owner can access (chmod 600 it)`,
    ]);
    const missing = base(`  tokenFile: ${f('nowhere')}\n`);
    expect(problemsOf(missing)).toEqual([
      `${missing}:10:14: codecServer.tokenFile: '${f('nowhere')}': no such file; expected a readable file`,
    ]);
  });
});
