// Checks a schema cannot make: files the configuration names exist and are readable, kubeconfigs have
// the context they are used through, and the keys each mapping allows (an unknown key at its own line).
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { ClusterConfig, LifeboatConfig } from './schema.js';
import type { Path, Raw } from './source.js';
import { secretFileProblem } from '../secret-files.js';

export const isDirectory = (path: string) => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

/** The keys the object schema at `path` allows; a discriminated union is read by the raw value's discriminator. */
export function allowedKeys(schema: z.ZodType, path: Path, raw: unknown): string[] {
  let node: z.ZodType | undefined = schema;
  let value = raw;
  for (let i = 0; node; i++) {
    for (;;) {
      if (node instanceof z.ZodDefault || node instanceof z.ZodPrefault || node instanceof z.ZodOptional) node = node.unwrap() as z.ZodType;
      else if (node instanceof z.ZodPipe) node = node.in as z.ZodType;
      else if (node instanceof z.ZodDiscriminatedUnion) {
        const discriminator: string = (node.def as { discriminator: string }).discriminator;
        const chosen = (value as Raw | undefined)?.[discriminator];
        node = (node.options as z.ZodType[]).find(
          (o) =>
            o instanceof z.ZodObject && (o.shape[discriminator] as z.ZodLiteral | undefined)?.values.has(chosen as z.core.util.Literal),
        );
      } else break;
    }
    if (i === path.length || !node) break;
    const key = path[i]!;
    value = (value as Record<string | number, unknown> | undefined)?.[key];
    if (node instanceof z.ZodObject) node = node.shape[key] as z.ZodType | undefined;
    else if (node instanceof z.ZodArray) node = node.element as z.ZodType;
    else if (node instanceof z.ZodRecord) node = node.valueType as z.ZodType;
    else node = undefined;
  }
  return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
}

/** Why `file` cannot be read by this process, or undefined. */
export function unreadable(file: string): string | undefined {
  try {
    if (statSync(file).isDirectory()) return 'a directory';
    accessSync(file, constants.R_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'no such file';
    if (code === 'EACCES') return `not readable by this user (uid ${process.getuid?.() ?? '?'})`;
    return (err as Error).message;
  }
}

/** Why a cluster's kubeconfig cannot give the context it is used through, or undefined. */
export function kubeconfigProblem(cluster: ClusterConfig, i: number): { path: Path; message: string } | undefined {
  if (cluster.kubeconfig === undefined) return undefined;
  let kc: { contexts?: { name?: unknown }[]; 'current-context'?: unknown } | undefined;
  try {
    kc = parseYaml(readFileSync(cluster.kubeconfig, 'utf8')) as typeof kc;
  } catch (err) {
    return {
      path: ['clusters', i, 'kubeconfig'],
      message: `'${cluster.kubeconfig}': not a kubeconfig (${(err as Error).message.split('\n')[0]}); expected a kubeconfig file`,
    };
  }
  const names = (Array.isArray(kc?.contexts) ? kc.contexts : []).map((c) => c?.name).filter((n): n is string => typeof n === 'string');
  if (!names.length)
    return {
      path: ['clusters', i, 'kubeconfig'],
      message: `'${cluster.kubeconfig}': not a kubeconfig (it has no contexts); expected a kubeconfig file`,
    };
  if (cluster.context !== undefined) {
    return names.includes(cluster.context)
      ? undefined
      : {
          path: ['clusters', i, 'context'],
          message: `no context '${cluster.context}' in '${cluster.kubeconfig}'; expected one of ${names.join(', ')}`,
        };
  }
  const current = kc?.['current-context'];
  if (typeof current !== 'string' || current === '')
    return {
      path: ['clusters', i, 'kubeconfig'],
      message: `'${cluster.kubeconfig}' has no current-context; expected clusters[].context set to one of ${names.join(', ')}`,
    };
  if (!names.includes(current))
    return {
      path: ['clusters', i, 'kubeconfig'],
      message: `'${cluster.kubeconfig}': its current-context '${current}' is not one of its contexts; expected clusters[].context set to one of ${names.join(', ')}`,
    };
  return undefined;
}

/**
 * Files the configuration names that a later command would fail on: each must be a readable file, and a
 * kubeconfig must hold the context it is used through. Checked at load, so that a typo in a path is
 * found by `lifeboat worker` or any command, not by the first backup that needs the file.
 */
export function unusableFiles(config: LifeboatConfig): { path: Path; message: string }[] {
  const named: [Path, string | undefined][] = [];
  const tls = config.temporal.tls;
  named.push(
    [['temporal', 'tls', 'serverRootCaFile'], tls?.serverRootCaFile],
    [['temporal', 'tls', 'clientCertFile'], tls?.clientCertFile],
    [['temporal', 'tls', 'clientKeyFile'], tls?.clientKeyFile],
    [['temporal', 'apiKeyFile'], config.temporal.apiKeyFile],
  );
  named.push([['objectStore', 'credentialsFile'], config.objectStore.credentialsFile]);
  config.clusters.forEach((c, i) =>
    named.push(
      [['clusters', i, 'kubeconfig'], c.kubeconfig],
      [['clusters', i, 'etcd', 'caFile'], c.etcd.caFile],
      [['clusters', i, 'etcd', 'certFile'], c.etcd.certFile],
      [['clusters', i, 'etcd', 'keyFile'], c.etcd.keyFile],
      [['clusters', i, 'restoreVerification', 'encryptionConfigFile'], c.restoreVerification.encryptionConfigFile],
    ),
  );
  config.clusters.forEach((c, i) => {
    if (c.controlPlane?.driver === 'commands')
      named.push(
        [['clusters', i, 'controlPlane', 'ssh', 'identityFile'], c.controlPlane.ssh.identityFile],
        [['clusters', i, 'controlPlane', 'ssh', 'knownHostsFile'], c.controlPlane.ssh.knownHostsFile],
      );
  });
  config.encryption?.keys.forEach((k, i) => named.push([['encryption', 'keys', i, 'file'], k.file]));
  named.push([['codecServer', 'tokenFile'], config.codecServer?.tokenFile]);
  const problems: { path: Path; message: string }[] = [];
  for (const [path, file] of named) {
    const why = file === undefined ? undefined : unreadable(file);
    if (why) problems.push({ path, message: `'${file}': ${why}; expected a readable file` });
  }
  // Secret files others may read are refused, as ssh refuses such a private key (worker/secret-files.ts).
  config.encryption?.keys.forEach((k, i) => {
    const path = ['encryption', 'keys', i, 'file'];
    const open = k.file === undefined || problems.some((p) => p.path.join('.') === path.join('.')) ? undefined : secretFileProblem(k.file);
    if (open) problems.push({ path, message: `'${k.file}': ${open}; expected a file only its owner can access (chmod 600 it)` });
  });
  // Temporal's credentials: the API key and the mTLS private key.
  for (const [path, secret] of [
    [['temporal', 'apiKeyFile'], config.temporal.apiKeyFile],
    [['temporal', 'tls', 'clientKeyFile'], tls?.clientKeyFile],
  ] as const) {
    const problem = secret && !problems.some((p) => p.path.join('.') === path.join('.')) ? secretFileProblem(secret) : undefined;
    if (problem)
      problems.push({ path: [...path], message: `'${secret}': ${problem}; expected a file only its owner can access (chmod 600 it)` });
  }
  const tokenFile = config.codecServer?.tokenFile;
  const open = tokenFile && !problems.some((p) => p.path[0] === 'codecServer') ? secretFileProblem(tokenFile) : undefined;
  if (open)
    problems.push({
      path: ['codecServer', 'tokenFile'],
      message: `'${tokenFile}': ${open}; expected a file only its owner can access (chmod 600 it)`,
    });
  config.clusters.forEach((c, i) => {
    if (problems.some((p) => p.path.join('.') === `clusters.${i}.kubeconfig`)) return;
    const problem = kubeconfigProblem(c, i);
    if (problem) problems.push(problem);
  });
  return problems;
}
