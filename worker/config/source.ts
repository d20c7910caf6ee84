// Where a configuration value came from: the YAML file's line and column of each key and value, for
// errors that send a person to the exact place.
import { readFileSync } from 'node:fs';
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';

/** A configuration that cannot be used: the message names each source, location and expectation. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid Lifeboat configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export type Path = (string | number)[];
export type Raw = Record<string, unknown>;

export interface Source {
  /** How to name where a value at `path` came from: file:line:col or an environment variable. */
  describe(path: Path): string;
}

export const pathText = (path: PropertyKey[]) =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('') || '(top level)';

export interface YamlFile {
  raw: Raw;
  /** file:line:col of the value at `path` (or of the deepest part of it that exists). */
  locate: (path: Path) => string | undefined;
  /** file:line:col of the key `key` in the mapping at `path`. */
  locateKey: (path: Path, key: string) => string | undefined;
}

/** Reads the YAML file, reporting syntax errors with their line and column. */
export function readYaml(filePath: string): YamlFile {
  const text = readFileSync(filePath, 'utf8');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length) {
    throw new ConfigError(
      doc.errors.map(
        (e) => `${filePath}:${e.linePos?.[0].line ?? '?'}:${e.linePos?.[0].col ?? '?'}: YAML syntax: ${e.message.split('\n')[0]}`,
      ),
    );
  }
  const value: unknown = doc.toJS() ?? {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError([`${filePath}: expected a mapping at the top level`]);
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return `${filePath}:${line}:${col}`;
  };
  return {
    raw: value as Raw,
    locate: (path) => {
      // The deepest node that exists along the path: a missing key is reported at its parent.
      for (let n = path.length; n >= 0; n--) {
        const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
        const offset = node?.range?.[0] ?? (n === 0 ? 0 : undefined);
        if (offset !== undefined && node) return at(offset);
      }
      return undefined;
    },
    locateKey: (path, key) => {
      const parent = path.length ? doc.getIn(path, true) : doc.contents;
      if (!isMap(parent)) return undefined;
      const pair = parent.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
      const offset = isScalar(pair?.key) ? pair.key.range?.[0] : undefined;
      return offset === undefined ? undefined : at(offset);
    },
  };
}

export const setIn = (obj: Raw, path: string[], value: unknown) => {
  let cur = obj;
  for (const key of path.slice(0, -1)) cur = (cur[key] ??= {}) as Raw;
  cur[path[path.length - 1]!] = value;
};
