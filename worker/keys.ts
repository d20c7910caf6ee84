// Snapshot encryption keys, read once at worker start from files or environment variables. Only key
// ids ever leave the worker process (into manifests and workflow history); key material never does.
import { readFileSync } from 'node:fs';
import { parseKey } from '../activities/object-store/envelope.js';
import { ConfigError, type EncryptionConfig } from './config.js';

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
      const material = k.file ? readFileSync(k.file, 'utf8') : env[k.env!];
      if (material === undefined || material.trim() === '') throw new Error(`${source}: not set`);
      keys.set(k.id, parseKey(material.trim(), source));
    } catch (err) {
      problems.push((err as NodeJS.ErrnoException).code === 'ENOENT' ? `${source}: file not found` : (err as Error).message);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return { currentKeyId: encryption.currentKeyId, lookup: (id) => keys.get(id), ids: [...keys.keys()] };
}
