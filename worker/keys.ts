// Snapshot encryption keys, read once at worker start from files or environment variables. Only key
// ids ever leave the worker process (into manifests and workflow history); key material never does.
import { hkdfSync } from 'node:crypto';
import { parseKey } from '../activities/object-store/envelope.js';
import { ConfigError, type EncryptionConfig } from './config.js';
import { readSecretFile } from './secret-files.js';

export interface KeyRing {
  currentKeyId: string;
  /** Key material by id. */
  lookup: (keyId: string) => Buffer | undefined;
  ids: string[];
}

export function loadKeyRing(encryption: EncryptionConfig, env: NodeJS.ProcessEnv = process.env): KeyRing {
  const keys = new Map<string, Buffer>();
  const problems: string[] = [];
  for (const k of encryption.keys) {
    const source = k.file ? `key '${k.id}' file ${k.file}` : `key '${k.id}' environment variable ${k.env}`;
    try {
      // A key file others may read is refused, as ssh refuses such a private key.
      const material = k.file ? readSecretFile(k.file, `key '${k.id}' file`) : env[k.env!];
      if (material === undefined || material.trim() === '') throw new Error(`${source}: not set`);
      keys.set(k.id, parseKey(material.trim(), source));
    } catch (err) {
      problems.push((err as NodeJS.ErrnoException).code === 'ENOENT' ? `${source}: file not found` : (err as Error).message);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return { currentKeyId: encryption.currentKeyId, lookup: (id) => keys.get(id), ids: [...keys.keys()] };
}

/**
 * What a key derived from the keyring is for. Each purpose gets its own key (HKDF-SHA256 over the keyring
 * key, the purpose as `info`), so a key used to MAC manifests never encrypts history, and a leak of one
 * derived key says nothing of the others or of the snapshot key.
 */
export type KeyPurpose = 'history-payloads' | 'manifest-mac' | 'secret-compare';

/**
 * The 32-byte key for `purpose` derived from keyring key `keyId` (default: the current one), or
 * `undefined` when that id is not configured.
 */
export function deriveKey(keyRing: KeyRing, purpose: KeyPurpose, keyId = keyRing.currentKeyId): Buffer | undefined {
  const material = keyRing.lookup(keyId);
  if (!material) return undefined;
  return Buffer.from(hkdfSync('sha256', material, Buffer.from(`lifeboat/${keyId}`), Buffer.from(`lifeboat ${purpose} v1`), 32));
}
