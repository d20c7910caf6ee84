// Lifeboat's configuration: a YAML file (optional) overlaid by environment variables, validated once
// at the edge (worker and CLI start). Errors name the file and line, or the variable, and what was expected.
// The schema (config/schema.ts), the file's locations (config/source.ts), the environment overlay
// (config/environment.ts), the checks beyond the schema (config/checks.ts) and the lookups by name
// (config/lookups.ts) each live in their own module; this one loads.
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { configSchema, type LifeboatConfig } from './config/schema.js';
import { ConfigError, pathText, readYaml, setIn, type Raw, type Source, type YamlFile } from './config/source.js';
import { clusterEnv, scalarEnv } from './config/environment.js';
import { allowedKeys, isDirectory, unusableFiles } from './config/checks.js';
import { notificationFileProblems } from './config/notifications.js';

export * from './config/schema.js';
export type { NotificationsConfig, NotificationReceiverConfig, NotificationRouteConfig } from './config/notifications.js';
export { ConfigError } from './config/source.js';
export * from './config/lookups.js';

/** The configuration file to read: LIFEBOAT_CONFIG, else ./lifeboat.yaml, else none. */
export function configFilePath(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | undefined {
  if (env.LIFEBOAT_CONFIG) return isAbsolute(env.LIFEBOAT_CONFIG) ? env.LIFEBOAT_CONFIG : resolve(cwd, env.LIFEBOAT_CONFIG);
  const local = resolve(cwd, 'lifeboat.yaml');
  return existsSync(local) ? local : undefined;
}

/**
 * Loads and validates the configuration. Throws ConfigError naming every problem; nothing downstream
 * re-validates.
 */
export function loadConfig(options: { env?: NodeJS.ProcessEnv; file?: string; cwd?: string } = {}): LifeboatConfig {
  const env = options.env ?? process.env;
  const filePath = options.file ?? configFilePath(env, options.cwd);
  let raw: Raw = {};
  let locate: YamlFile['locate'] = () => undefined;
  let locateKey: YamlFile['locateKey'] = () => undefined;
  if (filePath) {
    if (!existsSync(filePath)) {
      throw new ConfigError([`${filePath}: configuration file not found${env.LIFEBOAT_CONFIG ? ' (named by LIFEBOAT_CONFIG)' : ''}`]);
    }
    ({ raw, locate, locateKey } = readYaml(filePath));
  }
  const fromEnv = new Map<string, string>();
  for (const [variable, path, parse] of scalarEnv) {
    const v = env[variable];
    if (v === undefined || v === '') continue;
    setIn(raw, path, parse(v));
    fromEnv.set(path.join('.'), variable);
  }
  if (env.LIFEBOAT_CLUSTERS) {
    const clusters = (Array.isArray(raw.clusters) ? raw.clusters : []) as Raw[];
    for (const clusterName of env.LIFEBOAT_CLUSTERS.split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      let index = clusters.findIndex((c) => c.name === clusterName);
      if (index < 0) index = clusters.push({ name: clusterName }) - 1;
      for (const [suffix, path, parse] of clusterEnv) {
        const variable = `LIFEBOAT_CLUSTER_${clusterName.toUpperCase().replace(/-/g, '_')}_${suffix}`;
        const v = env[variable];
        if (v === undefined || v === '') continue;
        setIn(clusters[index]!, path, parse(v));
        fromEnv.set(['clusters', index, ...path].join('.'), variable);
      }
    }
    raw.clusters = clusters;
  }
  const source: Source = {
    describe(path) {
      for (let n = path.length; n > 0; n--) {
        const variable = fromEnv.get(path.slice(0, n).join('.'));
        if (variable) return `environment variable ${variable}`;
      }
      return locate(path) ?? (filePath ? `${filePath}` : 'configuration (no file; set LIFEBOAT_CONFIG or the LIFEBOAT_* variables)');
    },
  };
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.flatMap((issue) => {
        const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
        if (issue.code === 'unrecognized_keys') {
          // Each unknown key at its own line, with what is allowed there: a typo is found at a glance.
          const allowed = allowedKeys(configSchema, path, raw);
          return issue.keys.map(
            (key) =>
              `${locateKey(path, key) ?? source.describe(path)}: ${pathText([...path, key])}: unknown key; expected one of ${allowed.join(', ')}`,
          );
        }
        return [`${source.describe(path)}: ${pathText(issue.path)}: ${issue.message}`];
      }),
    );
  }
  const unusable = [...unusableFiles(parsed.data), ...notificationFileProblems(parsed.data.notifications)];
  // runbooks.dir, read from the configuration file's folder (from the working directory when a variable names it), becomes absolute.
  const cwd = options.cwd ?? process.cwd();
  const runbooksBase = filePath && !fromEnv.has('runbooks.dir') ? dirname(filePath) : cwd;
  const runbooksDir = resolve(runbooksBase, parsed.data.runbooks.dir ?? 'runbooks');
  if (parsed.data.runbooks.dir !== undefined && !isDirectory(runbooksDir)) {
    unusable.push({ path: ['runbooks', 'dir'], message: `'${runbooksDir}': no such directory; expected the folder of runbook documents` });
  }
  if (unusable.length)
    throw new ConfigError(unusable.map(({ path, message }) => `${source.describe(path)}: ${pathText(path)}: ${message}`));
  parsed.data.runbooks.dir = runbooksDir;
  return parsed.data;
}
