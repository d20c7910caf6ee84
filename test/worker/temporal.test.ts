// Unit: the worker and CLI reach a self-hosted Temporal with mTLS, Temporal Cloud with an API key,
// or the lab's dev server in plain text, from configuration alone. No lab needed.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '../../worker/config.js';
import { temporalConnectionOptions } from '../../worker/temporal.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-temporal-'));
// The files a configuration names must exist when it is loaded.
writeFileSync(join(dir, 'k'), 'contexts: [{ name: c, context: {} }]\ncurrent-context: c\n');
for (const name of ['ca', 'crt', 'key']) writeFileSync(join(dir, name), 'PEM\n');
const base = `objectStore: { bucket: backups }
clusters:
  - name: primary
    kubeconfig: ${join(dir, 'k')}
    etcd: { endpoints: [https://e:2379], caFile: ${join(dir, 'ca')}, certFile: ${join(dir, 'crt')}, keyFile: ${join(dir, 'key')} }
`;
const load = (temporal: string, env: Record<string, string> = {}) => {
  const file = join(dir, `${Math.random()}.yaml`);
  writeFileSync(file, `${temporal}\n${base}`);
  return temporalConnectionOptions(loadConfig({ file, env }));
};

describe('temporalConnectionOptions', () => {
  it('plain text to a dev server by default', () => {
    expect(load('')).toEqual({ address: '127.0.0.1:7233' });
  });

  it('Temporal Cloud: an API key from the environment turns TLS on', () => {
    expect(
      load('temporal: { address: ns.acct.tmprl.cloud:7233, namespace: ns.acct }', { LIFEBOAT_TEMPORAL_API_KEY: 'secret-key' }),
    ).toEqual({ address: 'ns.acct.tmprl.cloud:7233', apiKey: 'secret-key', tls: true });
  });

  it('mTLS to a self-hosted cluster reads the certificate files', () => {
    for (const [name, text] of [
      ['ca.pem', 'CA'],
      ['client.pem', 'CRT'],
      ['client.key', 'KEY'],
    ] as const)
      writeFileSync(join(dir, name), text, { mode: 0o600 });
    const options = load(`temporal:
  address: temporal.internal:7233
  tls: { serverName: temporal.internal, serverRootCaFile: ${join(dir, 'ca.pem')}, clientCertFile: ${join(dir, 'client.pem')}, clientKeyFile: ${join(dir, 'client.key')} }`);
    expect(options.address).toBe('temporal.internal:7233');
    expect(options.tls).toEqual({
      serverNameOverride: 'temporal.internal',
      serverRootCACertificate: Buffer.from('CA'),
      clientCertPair: { crt: Buffer.from('CRT'), key: Buffer.from('KEY') },
    });
  });

  it('Temporal Cloud or a self-hosted cluster: the API key from a file (a mounted Secret), trimmed', () => {
    const keyFile = join(dir, 'api-key');
    writeFileSync(keyFile, 'file-key\n', { mode: 0o600 });
    expect(load(`temporal: { address: ns.acct.tmprl.cloud:7233, apiKeyFile: ${keyFile} }`)).toEqual({
      address: 'ns.acct.tmprl.cloud:7233',
      apiKey: 'file-key',
      tls: true,
    });
  });

  it('refuses, at their lines, secret files others may read, an API key given twice, and a certificate without its key', () => {
    const keyFile = join(dir, 'open-api-key');
    writeFileSync(keyFile, 'k\n');
    chmodSync(keyFile, 0o644);
    const problems = (temporal: string, env: Record<string, string> = {}) => {
      try {
        load(temporal, env);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).problems.map((p) => p.replaceAll(dir, '<dir>'));
      }
      throw new Error('expected a ConfigError');
    };
    expect(problems(`temporal:\n  apiKeyFile: ${keyFile}`)).toEqual([
      expect.stringMatching(
        /\.yaml:2:15: temporal\.apiKeyFile: '<dir>\/open-api-key': mode 0644 is too open: its group and others may access it; expected a file only its owner can access \(chmod 600 it\)$/,
      ),
    ]);
    writeFileSync(join(dir, 'open.key'), 'KEY');
    chmodSync(join(dir, 'open.key'), 0o640);
    expect(problems(`temporal:\n  tls: { clientCertFile: ${join(dir, 'crt')}, clientKeyFile: ${join(dir, 'open.key')} }`)).toEqual([
      expect.stringMatching(
        /\.yaml:2:\d+: temporal\.tls\.clientKeyFile: '<dir>\/open\.key': mode 0640 is too open: its group may access it;/,
      ),
    ]);
    chmodSync(keyFile, 0o600);
    expect(problems(`temporal:\n  apiKeyFile: ${keyFile}`, { LIFEBOAT_TEMPORAL_API_KEY: 'k' })).toEqual([
      expect.stringMatching(
        /\.yaml:2:15: temporal\.apiKeyFile: apiKey and apiKeyFile are exclusive \(LIFEBOAT_TEMPORAL_API_KEY sets apiKey\)$/,
      ),
    ]);
    expect(problems(`temporal:\n  tls: { clientCertFile: ${join(dir, 'crt')} }`)).toEqual([
      expect.stringMatching(/\.yaml:2:8: temporal\.tls\.clientKeyFile: clientCertFile and clientKeyFile go together \(mTLS needs both\)$/),
    ]);
  });
});
