// JSON logs through pino, with secrets redacted; Temporal's own logs go through the same logger.
import { pino, type Logger as PinoLogger } from 'pino';
import { DefaultLogger, type LogEntry, Runtime } from '@temporalio/worker';

/** Keys whose values never reach a log line. */
export const redactedPaths = [
  '*.apiKey',
  '*.secretAccessKey',
  '*.accessKeyId',
  '*.password',
  '*.token',
  '*.key',
  '*.keyMaterial',
  'apiKey',
  'secretAccessKey',
  'token',
];

export function createLogger(level = process.env.LIFEBOAT_LOG_LEVEL ?? 'info'): PinoLogger {
  return pino({ level, base: { service: 'lifeboat-worker' }, redact: { paths: redactedPaths, censor: '[redacted]' } });
}

const pinoLevel = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

/** Routes the Temporal SDK's and workflows' logs into pino. Call once per process, before creating a Worker. */
export function installTemporalLogger(logger: PinoLogger): void {
  Runtime.install({
    logger: new DefaultLogger('INFO', (entry: LogEntry) => {
      logger[pinoLevel[entry.level]]({ ...entry.meta, sdk: true }, entry.message);
    }),
  });
}
