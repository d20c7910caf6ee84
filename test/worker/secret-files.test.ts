// Secret files others may read are refused (lab: Temporal, for the worker that does start; the rest is
// files on this machine): readSecretFile, loadKeyRing, and the real `lifeboat worker` start with a
// configuration whose snapshot key file is readable by others.
import { chmodSync, chownSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Client, Connection } from '@temporalio/client';
import { execa } from 'execa';
import { labConfigFile, labKeyFile } from '../../lab/topology.js';
import { ConfigError } from '../../worker/config.js';
import { loadKeyRing } from '../../worker/keys.js';
import { readSecretFile, SecretFileError } from '../../worker/secret-files.js';
import { cliPath, labConfig } from '../helpers/lab.js';
import { polled } from '../helpers/worker-process.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-secret-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const keyText = `${Buffer.alloc(32, 9).toString('base64')}\n`;
function secretFile(name: string, mode: number): string {
  const file = join(dir, name);
  writeFileSync(file, keyText, { mode: 0o600 });
  chmodSync(file, mode); // whatever the umask
  return file;
}

describe('readSecretFile', () => {
  it('reads a file only its owner can access', () => {
    expect(readSecretFile(secretFile('private', 0o600), 'test file')).toBe(keyText);
    expect(readSecretFile(secretFile('read-only', 0o400), 'test file')).toBe(keyText);
  });

  it('refuses one its group or others may access, naming the file and its mode', () => {
    for (const [mode, who] of [
      [0o644, 'its group and others'],
      [0o640, 'its group'],
      [0o604, 'others'],
      [0o602, 'others'],
    ] as const) {
      const file = secretFile(`open-${mode.toString(8)}`, mode);
      expect(() => readSecretFile(file, "key 'k1' file")).toThrow(SecretFileError);
      expect(() => readSecretFile(file, "key 'k1' file")).toThrow(
        `key 'k1' file '${file}': mode 0${mode.toString(8)} is too open: ${who} may access it; it must be accessible by its owner only (chmod 600 '${file}')`,
      );
    }
  });

  it('leaves a file of another owner to that owner, as ssh does (a root-owned Kubernetes Secret volume read through fsGroup)', () => {
    const file = secretFile('other-owner', 0o640);
    chownSync(file, 65534, 65534);
    expect(readSecretFile(file, 'test file')).toBe(keyText);
  });

  it('loadKeyRing refuses a key file others may read', () => {
    const file = secretFile('k1.key', 0o644);
    const load = () => loadKeyRing({ currentKeyId: 'k1', keys: [{ id: 'k1', file }] });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(`key 'k1' file '${file}': mode 0644 is too open`);
  });
});

describe('lifeboat worker', () => {
  it('refuses to start with a snapshot key file readable by others, and starts once it is 0600', async () => {
    const keyFile = join(dir, 'lab-1.key');
    copyFileSync(labKeyFile, keyFile);
    chmodSync(keyFile, 0o644);
    const configText = readFileSync(labConfigFile, 'utf8');
    expect(configText).toContain(`file: ${labKeyFile}`);
    const configFile = join(dir, 'lifeboat.yaml');
    writeFileSync(configFile, configText.replace(`file: ${labKeyFile}`, `file: ${keyFile}`));
    const line = configText.split('\n').findIndex((l) => l.includes(`file: ${labKeyFile}`)) + 1;
    const taskQueue = `test-secret-files-${randomUUID()}`;
    const worker = () =>
      execa(process.execPath, [cliPath, 'worker'], {
        env: { LIFEBOAT_CONFIG: configFile, LIFEBOAT_TEMPORAL_TASK_QUEUE: taskQueue, LIFEBOAT_METRICS_PORT: '0' },
        reject: false,
        timeout: 60_000,
      });

    const refused = await worker();
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toBe(
      `lifeboat worker: invalid Lifeboat configuration:\n  - ${configFile}:${line}:13: encryption.keys[0].file: '${keyFile}': mode 0644 is too open: its group and others may access it; expected a file only its owner can access (chmod 600 it)`,
    );

    chmodSync(keyFile, 0o600);
    const started = worker();
    const config = labConfig();
    const connection = await Connection.connect({ address: config.temporal.address });
    try {
      await polled(new Client({ connection, namespace: config.temporal.namespace }), config.temporal.namespace, taskQueue);
    } finally {
      started.kill('SIGTERM');
      await connection.close();
    }
    expect((await started).exitCode).toBe(0);
  }, 120_000);
});
