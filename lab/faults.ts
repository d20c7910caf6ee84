// Real network faults on the lab's loopback paths: every path Lifeboat uses goes through a Toxiproxy
// proxy of its own (github.com/Shopify/toxiproxy), and faults are Toxiproxy "toxics" set through its
// HTTP API. `lifeboat-faults.yaml` is the lab configuration with every path through the proxies; the
// default `lifeboat.yaml` stays direct.
//
// The npm client (toxiproxy-node-client) drops the server's error messages and a proxy's toxics when it
// lists proxies, both of which `lab fault` shows; the API is six documented endpoints, so fetch it is.
import { readFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { writeSecretFile } from '../worker/secret-files.js';
import { describeNetworkError } from '../activities/network-errors.js';
import { etcdMembersOf, host, labClusters, minioPorts, temporalPorts, toxiproxyPort } from './topology.js';

/** The lab's Toxiproxy API (`lab up` starts it: the `toxiproxy` component). */
export const labToxiproxyUrl = `http://${host}:${toxiproxyPort}`;

/** One proxied path: what `lifeboat lab fault <path>` names. */
export interface FaultPath {
  /** The proxy's name in Toxiproxy, and the `<path>` argument of `lab fault`. */
  name: string;
  /** `127.0.0.1:<port>` the proxy listens on; clients that should see the fault connect here. */
  listen: string;
  /** `127.0.0.1:<port>` of the real server it forwards to. */
  upstream: string;
  /** Who talks to whom through it. */
  description: string;
}

const at = (port: number) => `${host}:${port}`;

/**
 * Every path Lifeboat uses, each on a listen port of its own (all below Linux's ephemeral range, so a
 * client's outgoing connection never holds one). Cluster k's ports are 31000 + 1000k + 443 (its API
 * server), + 379 + 2i (etcd member i), + 444 (its API server as a peer cluster sees it).
 */
export const faultPaths: readonly FaultPath[] = [
  { name: 'temporal', listen: at(30233), upstream: at(temporalPorts.frontend), description: 'worker → Temporal frontend (gRPC)' },
  { name: 'object-store', listen: at(30900), upstream: at(minioPorts.api), description: 'worker → MinIO (S3 API)' },
  ...labClusters.flatMap((c, k): FaultPath[] => {
    const base = 31000 + 1000 * k;
    return [
      {
        name: `apiserver-${c.name}`,
        listen: at(base + 443),
        upstream: at(c.apiserverPort),
        description: `worker → ${c.name}'s kube-apiserver`,
      },
      ...etcdMembersOf(c).map((m, i) => ({
        name: `etcd-${m.name}`,
        listen: at(base + 379 + 2 * i),
        upstream: new URL(m.clientUrl).host,
        description: `worker → ${c.name}'s etcd member ${m.name}`,
      })),
      // How the other cluster sees this one's API (the partition runbook's cross-cluster probe): a path
      // of its own, so the sites can be partitioned from each other while the worker still sees both.
      ...labClusters
        .filter((peer) => peer.name !== c.name)
        .map((peer, j) => ({
          name: `${peer.name}-to-${c.name}`,
          listen: at(base + 444 + j),
          upstream: at(c.apiserverPort),
          description: `${peer.name} → ${c.name}'s kube-apiserver`,
        })),
    ];
  }),
];

export const faultKinds = ['blackhole', 'latency', 'bandwidth', 'cut', 'reset', 'down'] as const;
export type FaultKind = (typeof faultKinds)[number];
/** Toxiproxy's streams: upstream is client → server, downstream server → client. */
export type Direction = 'upstream' | 'downstream';

/** A fault on one path. Each kind but `down` is one toxic per direction. */
export type Fault =
  /** Packets vanish: a timeout toxic with timeout 0. Connections open, then nothing arrives. */
  | { kind: 'blackhole'; directions: Direction[] }
  | { kind: 'latency'; ms: number; jitterMs: number; directions: Direction[] }
  /** Kilobytes (not kilobits) per second: Toxiproxy's unit. */
  | { kind: 'bandwidth'; kbps: number; directions: Direction[] }
  /** The connection is closed once `afterBytes` have passed (limit_data). */
  | { kind: 'cut'; afterBytes: number; directions: Direction[] }
  /** TCP RST (reset_peer), `afterMs` after the connection's first data. */
  | { kind: 'reset'; afterMs: number; directions: Direction[] }
  /** The proxy stops listening: connection refused. */
  | { kind: 'down' };

/** What each kind does by default and which options it takes (the CLI's help and argument checks). */
export const faultKindOptions: Record<FaultKind, { options: string[]; defaultDirection: Direction[]; summary: string }> = {
  blackhole: { options: ['--direction'], defaultDirection: ['upstream', 'downstream'], summary: 'packets vanish; connections hang' },
  latency: { options: ['--ms', '--jitter', '--direction'], defaultDirection: ['downstream'], summary: 'delay of --ms ± --jitter' },
  bandwidth: { options: ['--kbps', '--direction'], defaultDirection: ['downstream'], summary: 'at most --kbps KB/s' },
  cut: { options: ['--after-bytes', '--direction'], defaultDirection: ['downstream'], summary: 'connection closed after --after-bytes' },
  reset: { options: ['--after-ms', '--direction'], defaultDirection: ['downstream'], summary: 'TCP reset (after --after-ms)' },
  down: { options: [], defaultDirection: [], summary: 'proxy disabled: connection refused' },
};

/** A `lab fault` argument that cannot be used: names the argument and what was expected. */
export class FaultArgumentError extends Error {
  override readonly name = 'FaultArgumentError';
  constructor(
    readonly argument: string,
    readonly expected: string,
    readonly got: string | undefined,
  ) {
    super(`${argument}: expected ${expected}, got ${got === undefined ? 'nothing' : `'${got}'`}`);
  }
}

/** Toxiproxy answered with an error (its own message), or could not be reached. */
export class ToxiproxyError extends Error {
  override readonly name = 'ToxiproxyError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The options of `lab fault add`, as the command line gives them (strings), before checking. */
export interface FaultOptions {
  ms?: string;
  jitter?: string;
  kbps?: string;
  afterBytes?: string;
  afterMs?: string;
  direction?: string;
}

const optionFlags: Record<keyof FaultOptions, string> = {
  ms: '--ms',
  jitter: '--jitter',
  kbps: '--kbps',
  afterBytes: '--after-bytes',
  afterMs: '--after-ms',
  direction: '--direction',
};

function wholeNumber(flag: string, value: string | undefined, what: string, min = 0): number {
  if (value === undefined || !/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value)))
    throw new FaultArgumentError(flag, `${what} (a whole number${min > 0 ? ` ≥ ${min}` : ''})`, value);
  return Number(value);
}

/** Checks `lab fault add`'s kind and options; throws FaultArgumentError naming the first bad one. */
export function faultFromOptions(kind: string, options: FaultOptions): Fault {
  if (!(faultKinds as readonly string[]).includes(kind)) throw new FaultArgumentError('<kind>', `one of ${faultKinds.join(', ')}`, kind);
  const k = kind as FaultKind;
  const spec = faultKindOptions[k];
  for (const [key, flag] of Object.entries(optionFlags) as [keyof FaultOptions, string][])
    if (options[key] !== undefined && !spec.options.includes(flag))
      throw new FaultArgumentError(
        flag,
        spec.options.length ? `no ${flag} for ${k} (its options: ${spec.options.join(', ')})` : `no options for ${k}`,
        options[key],
      );
  let directions = spec.defaultDirection;
  if (options.direction !== undefined) {
    if (!['upstream', 'downstream', 'both'].includes(options.direction))
      throw new FaultArgumentError('--direction', 'upstream (client → server), downstream (server → client) or both', options.direction);
    directions = options.direction === 'both' ? ['upstream', 'downstream'] : [options.direction as Direction];
  }
  switch (k) {
    case 'blackhole':
      return { kind: k, directions };
    case 'latency':
      return {
        kind: k,
        ms: wholeNumber('--ms', options.ms, 'the delay in milliseconds', 1),
        jitterMs: options.jitter === undefined ? 0 : wholeNumber('--jitter', options.jitter, 'the jitter in milliseconds'),
        directions,
      };
    case 'bandwidth':
      return { kind: k, kbps: wholeNumber('--kbps', options.kbps, 'the rate in kilobytes per second', 1), directions };
    case 'cut':
      return { kind: k, afterBytes: wholeNumber('--after-bytes', options.afterBytes, 'the bytes let through before the cut'), directions };
    case 'reset':
      return {
        kind: k,
        afterMs: options.afterMs === undefined ? 0 : wholeNumber('--after-ms', options.afterMs, 'milliseconds before the reset'),
        directions,
      };
    case 'down':
      return { kind: k };
  }
}

/** The lab path named `name`; an unknown one is a FaultArgumentError that lists the known ones. */
export function faultPath(name: string): FaultPath {
  const path = faultPaths.find((p) => p.name === name);
  if (!path) throw new FaultArgumentError('<path>', `one of ${faultPaths.map((p) => p.name).join(', ')}`, name);
  return path;
}

interface ToxicJson {
  name: string;
  type: string;
  stream: Direction;
  toxicity: number;
  attributes: Record<string, number>;
}

interface ProxyJson {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics: ToxicJson[];
}

/** One HTTP call to Toxiproxy's API; its `{"error": ...}` answers become ToxiproxyErrors with that message. */
async function call<T>(api: string, method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${api}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new ToxiproxyError(
      `the fault proxy's API at ${api} does not answer (${describeNetworkError(err)}): \`lifeboat lab up\` starts it`,
    );
  }
  const text = await res.text();
  if (!res.ok) {
    let message = text.trim();
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? message;
    } catch {
      // Not JSON: the text as it came.
    }
    throw new ToxiproxyError(`toxiproxy ${method} ${path}: ${res.status} ${message}`, res.status);
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

/**
 * Creates the proxies that are missing, replaces those whose listen or upstream address changed, and
 * leaves the rest (with their faults, `down` too) as they are: Toxiproxy's `/populate`. Returns each
 * proxy as it listens (a `listen` with port 0 gets a free port); read back, since `/populate` answers
 * with the requested address for a proxy it left alone.
 */
export async function ensureProxies(paths: readonly Pick<FaultPath, 'name' | 'listen' | 'upstream'>[], api = labToxiproxyUrl) {
  await call(
    api,
    'POST',
    '/populate',
    paths.map((p) => ({ name: p.name, listen: p.listen, upstream: p.upstream })),
  );
  const proxies = await call<Record<string, ProxyJson>>(api, 'GET', '/proxies');
  return paths.map(({ name }) => {
    const p = proxies[name];
    if (!p) throw new ToxiproxyError(`toxiproxy: proxy ${name} missing right after /populate created it`);
    return { name, listen: p.listen, upstream: p.upstream };
  });
}

/** Deletes a proxy (a test's own); a missing one is fine. */
export async function deleteProxy(name: string, api = labToxiproxyUrl): Promise<void> {
  await call(api, 'DELETE', `/proxies/${encodeURIComponent(name)}`).catch((err: unknown) => {
    if (!(err instanceof ToxiproxyError && err.status === 404)) throw err;
  });
}

const toxicOf = (fault: Exclude<Fault, { kind: 'down' }>): { type: string; attributes: Record<string, number> } => {
  switch (fault.kind) {
    case 'blackhole':
      return { type: 'timeout', attributes: { timeout: 0 } };
    case 'latency':
      return { type: 'latency', attributes: { latency: fault.ms, jitter: fault.jitterMs } };
    case 'bandwidth':
      return { type: 'bandwidth', attributes: { rate: fault.kbps } };
    case 'cut':
      return { type: 'limit_data', attributes: { bytes: fault.afterBytes } };
    case 'reset':
      return { type: 'reset_peer', attributes: { timeout: fault.afterMs } };
  }
};

/**
 * Sets a fault on a proxy. The same kind again (in the same direction) replaces its settings; faults of
 * other kinds stay (latency and a bandwidth limit together, say).
 */
export async function addFault(proxy: string, fault: Fault, api = labToxiproxyUrl): Promise<void> {
  const p = `/proxies/${encodeURIComponent(proxy)}`;
  if (fault.kind === 'down') {
    await call(api, 'POST', p, { enabled: false });
    return;
  }
  const { type, attributes } = toxicOf(fault);
  for (const stream of fault.directions) {
    const name = `${fault.kind}-${stream}`;
    try {
      await call(api, 'POST', `${p}/toxics`, { name, type, stream, toxicity: 1, attributes });
    } catch (err) {
      if (!(err instanceof ToxiproxyError && err.status === 409)) throw err;
      await call(api, 'POST', `${p}/toxics/${name}`, { attributes, toxicity: 1 });
    }
  }
}

/** Removes every fault from a proxy: its toxics, and `down`. Clearing a blackhole closes the connections it held. */
export async function clearFaults(proxy: string, api = labToxiproxyUrl): Promise<void> {
  const p = `/proxies/${encodeURIComponent(proxy)}`;
  const current = await call<ProxyJson>(api, 'GET', p);
  for (const t of current.toxics) await call(api, 'DELETE', `${p}/toxics/${t.name}`);
  if (!current.enabled) await call(api, 'POST', p, { enabled: true });
}

/** A proxy as `lab fault list` shows it. */
export interface ProxyState {
  name: string;
  listen: string;
  upstream: string;
  /** Whether the lab's configuration knows it (a test's own proxies are listed too). */
  labPath: boolean;
  /** Each active fault in words, e.g. `latency downstream 200±20 ms`, `down`. */
  faults: string[];
}

const describeToxic = (t: ToxicJson): string => {
  const a = t.attributes;
  const kind = t.name.replace(/-(upstream|downstream)$/, '');
  switch (t.type) {
    case 'timeout':
      return `${kind} ${t.stream}${a.timeout ? ` (closes after ${a.timeout} ms)` : ''}`;
    case 'latency':
      return `${kind} ${t.stream} ${a.latency}${a.jitter ? `±${a.jitter}` : ''} ms`;
    case 'bandwidth':
      return `${kind} ${t.stream} ${a.rate} KB/s`;
    case 'limit_data':
      return `${kind} ${t.stream} after ${a.bytes} bytes`;
    case 'reset_peer':
      return `${kind} ${t.stream}${a.timeout ? ` after ${a.timeout} ms` : ''}`;
    default:
      return `${t.name} (${t.type} ${t.stream} ${JSON.stringify(a)})`;
  }
};

/** Every proxy the fault proxy has, lab paths first, with its faults. A lab path it lacks is listed with the fault `no proxy`. */
export async function listFaults(api = labToxiproxyUrl): Promise<ProxyState[]> {
  const proxies = await call<Record<string, ProxyJson>>(api, 'GET', '/proxies');
  const state = (p: ProxyJson): ProxyState => ({
    name: p.name,
    listen: p.listen,
    upstream: p.upstream,
    labPath: faultPaths.some((x) => x.name === p.name),
    faults: [...(p.enabled ? [] : ['down']), ...p.toxics.map(describeToxic)],
  });
  const lab = faultPaths.map((path) =>
    proxies[path.name] ? state(proxies[path.name]!) : { ...path, labPath: true, faults: ['no proxy (`lifeboat lab up` creates it)'] },
  );
  const others = Object.values(proxies)
    .filter((p) => !faultPaths.some((x) => x.name === p.name))
    .sort((a, b) => a.name.localeCompare(b.name))
    .map(state);
  return [...lab.map(({ name, listen, upstream, labPath, faults }) => ({ name, listen, upstream, labPath, faults })), ...others];
}

/** The shape of the lab configuration this module rewrites; everything else is copied as it is. */
interface ProxiableConfig {
  temporal: { address: string };
  objectStore: { endpoint?: string };
  clusters: { name: string; kubeconfig?: string; etcd?: { endpoints: string[] } }[];
}

/** `host:port` of a worker path's upstream → its listen address (the cross-cluster paths are not the worker's). */
const workerPaths = () => new Map(faultPaths.filter((p) => !p.name.includes('-to-')).map((p) => [p.upstream, p.listen]));

function throughProxy(address: string): string {
  const upstream = /^[a-z]+:\/\//.test(address) ? new URL(address).host : address;
  const listen = workerPaths().get(upstream);
  if (!listen) throw new Error(`no fault path forwards to ${address}: add one to faultPaths in lab/faults.ts`);
  return address.replace(upstream, listen);
}

/** A cluster's kubeconfig through the fault proxy: `<name>.kubeconfig` → `<name>-faults.kubeconfig`, beside it. */
export const faultsKubeconfigOf = (kubeconfig: string) => kubeconfig.replace(/(\.kubeconfig)?$/, '-faults.kubeconfig');

/**
 * The lab configuration with every path through the fault proxy: each cluster's API server (a copy of
 * its kubeconfig, same credentials, the proxy's address: the serving certificates' IP SAN 127.0.0.1
 * still matches), its etcd members, the object store and Temporal. Writes the kubeconfig copies (0600:
 * they hold tokens) and returns the configuration.
 */
export async function faultsConfig<T extends object>(direct: T): Promise<T> {
  const config = structuredClone(direct) as T & ProxiableConfig;
  config.temporal.address = throughProxy(config.temporal.address);
  if (config.objectStore.endpoint) config.objectStore.endpoint = throughProxy(config.objectStore.endpoint);
  for (const c of config.clusters) {
    if (c.etcd) c.etcd.endpoints = c.etcd.endpoints.map(throughProxy);
    if (!c.kubeconfig) continue;
    const kubeconfig = parse(await readFile(c.kubeconfig, 'utf8')) as { clusters: { cluster: { server: string } }[] };
    for (const k of kubeconfig.clusters) k.cluster.server = throughProxy(k.cluster.server);
    c.kubeconfig = faultsKubeconfigOf(c.kubeconfig);
    await writeSecretFile(c.kubeconfig, stringify(kubeconfig));
  }
  return config;
}
