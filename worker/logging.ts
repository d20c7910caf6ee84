// JSON logs through pino, with secrets redacted; Temporal's own logs go through the same logger.
//
// Redaction walks every object a log line carries (and a child logger's bindings), at any depth, and
// replaces the value of every field whose name says it is a secret, whatever its case or separators
// (`Authorization`, `x-api-key`, `secretAccessKey`, a kubeconfig's `client-key-data`). pino's own
// `redact` paths cannot do this: a wildcard stands for one level only, so `a.b.token` or a header in
// an error's request would need a path written for each place it can appear.
import { pino, stdSerializers, type DestinationStream, type Logger as PinoLogger } from 'pino';
import { DefaultLogger, type LogEntry, Runtime } from '@temporalio/worker';

/** What a redacted value is replaced with. */
export const redactedText = '[redacted]';

/** Field names (lower case, without `-`, `_`, `.`) whose values never reach a log line. */
const secretNames = new Set([
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'xapikey',
  'apikey',
  'xauthtoken',
  'token',
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'bearertoken',
  'sessiontoken',
  'securitytoken',
  'password',
  'passwd',
  'passphrase',
  'secret',
  'clientsecret',
  'secretaccesskey',
  'accesskeyid',
  'privatekey',
  'clientkey',
  'keydata',
  'clientkeydata',
  'certdata',
  'clientcertificatedata',
  'keymaterial',
  'encryptionkey',
  'signingkey',
]);

/**
 * Whether a field named `name` holds a secret: one of the names above, or a name ending in password,
 * secret or token (`webhookSecret`, `bootstrapToken`). Names of where a secret is kept are not
 * secrets (`tokenFile`, `tokenEnv`, `secretName`), nor is a plain `key` (object-store keys are logged).
 */
export function isSecretField(name: string): boolean {
  const n = name.toLowerCase().replace(/[-_.\s]/g, '');
  return secretNames.has(n) || /(password|secret|token)$/.test(n);
}

/** `scheme://user:password@host`: the password of a URL written into a string. */
const urlPassword = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]+:)[^\s/@]+@/gi;

const maxDepth = 16;

/** A copy of `value` with every secret field's value replaced, at any depth; Errors serialized as pino does. */
export function redactSecrets(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return value.replace(urlPassword, `$1${redactedText}@`);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= maxDepth) return '[too deep]';
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  try {
    if (value instanceof Error) return redactSecrets(stdSerializers.err(value), depth, seen);
    if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
    if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1, seen));
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function')
      return redactSecrets((value as { toJSON(): unknown }).toJSON(), depth, seen);
    if (value instanceof Map) return redactSecrets(Object.fromEntries(value), depth, seen);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = isSecretField(k) ? redactedText : redactSecrets(v, depth + 1, seen);
    return out;
  } finally {
    seen.delete(value);
  }
}

const redactObject = (o: Record<string, unknown>) => redactSecrets(o) as Record<string, unknown>;

/** The worker's logger; `destination` (default stdout) is where tests capture its lines. */
export function createLogger(level = process.env.LIFEBOAT_LOG_LEVEL ?? 'info', destination?: DestinationStream): PinoLogger {
  const options = {
    level,
    base: { service: 'lifeboat-worker' },
    formatters: { log: redactObject, bindings: redactObject },
    // redactSecrets has already serialized every Error (pino's err serializer would re-serialize the copy as an "Object").
    serializers: { err: (err: unknown) => err },
  };
  const logger = destination ? pino(options, destination) : pino(options);
  // pino applies `formatters.bindings` to the root's bindings only; children inherit this `child`, so
  // every descendant's bindings are redacted too.
  const proto = Object.getPrototypeOf(logger) as PinoLogger;
  logger.child = function (this: PinoLogger, bindings, childOptions) {
    return proto.child.call(this, redactObject(bindings), childOptions);
  } as PinoLogger['child'];
  return logger;
}

const pinoLevel = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

/** Passes one of the Temporal SDK's (or a workflow's or activity's) log entries to pino. */
export const temporalLogSink = (logger: PinoLogger) => (entry: LogEntry) => {
  logger[pinoLevel[entry.level]]({ ...entry.meta, sdk: true }, entry.message);
};

/**
 * Routes the Temporal SDK's and workflows' logs into pino and, given `metricsBindAddress` (host:port),
 * serves the SDK's own runtime metrics there (its Prometheus exporter). Call once per process, before any
 * connection to Temporal is made.
 */
export function installTemporalLogger(logger: PinoLogger, metricsBindAddress?: string): void {
  Runtime.install({
    logger: new DefaultLogger('INFO', temporalLogSink(logger)),
    ...(metricsBindAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsBindAddress } } } } : {}),
  });
}
