// A Temporal dev server of a test's own: the lab's `temporal server start-dev` binary (lab/components.ts)
// on loopback ports the OS picks, headless, with its database, log and nothing else in a directory of the
// test's own, and Lifeboat's search attributes registered as on the lab's server. A test may kill -9 it
// and start it again on the same database; the lab's shared server is never touched.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { execa, type ResultPromise } from 'execa';
import { ensureSearchAttributes } from '../../lab/search-attributes.js';
import { bin, host } from '../../lab/topology.js';
import { freePort } from './prometheus.js';

export interface PrivateTemporal {
  /** host:port of its frontend (gRPC). */
  address: string;
  /** Its directory: the database file and the server's log. */
  dir: string;
  dbFile: string;
  /** The pid of the server running now; undefined while it is down. */
  pid(): number | undefined;
  /** SIGKILL, as a crashed host or pod: resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same database and ports; resolves with its pid once it serves the default namespace. */
  start(): Promise<number>;
  /** Stops it (SIGTERM, SIGKILL after 15 s) and removes its directory. */
  remove(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts a private dev server with Lifeboat's search attributes; `startTimeoutMs` bounds each start. */
export async function startPrivateTemporal({ startTimeoutMs = 60_000 } = {}): Promise<PrivateTemporal> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-private-temporal-'));
  const dbFile = join(dir, 'temporal.db');
  const logFile = join(dir, 'temporal.log');
  const [frontend, http, metrics] = [await freePort(), await freePort(), await freePort()];
  const address = `${host}:${frontend}`;
  // The lab's arguments but the ports, the database and the UI (lab/components.ts).
  const args = [
    'server',
    'start-dev',
    '--ip',
    host,
    '--port',
    String(frontend),
    '--http-port',
    String(http),
    '--metrics-port',
    String(metrics),
    '--headless',
    '--db-filename',
    dbFile,
    '--log-level',
    'warn',
  ];
  let server: ResultPromise | undefined;
  /** How the server last started ended, once it has. */
  let exited: string | undefined;
  const logTail = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-10).join('\n') : '');

  const serving = async (): Promise<void> => {
    let last = '';
    for (const deadline = Date.now() + startTimeoutMs; Date.now() < deadline; await sleep(200)) {
      if (exited) throw new Error(`the private Temporal server exited (${exited}):\n${logTail()}`);
      try {
        const connection = await Connection.connect({ address, connectTimeout: 1_000 });
        try {
          await connection.withDeadline(Date.now() + 2_000, () => connection.workflowService.describeNamespace({ namespace: 'default' }));
          return;
        } finally {
          await connection.close();
        }
      } catch (err) {
        last = (err as Error).message;
      }
    }
    throw new Error(`the private Temporal server at ${address} did not serve within ${startTimeoutMs / 1000} s (${last}):\n${logTail()}`);
  };

  const start = async (): Promise<number> => {
    if (server) throw new Error(`the private Temporal server runs already (pid ${server.pid})`);
    server = execa(bin.temporal, args, {
      stdout: { file: logFile, append: true },
      stderr: { file: logFile, append: true },
      reject: false,
    });
    exited = undefined;
    void server.then((r) => (exited = r.signal ?? `exit code ${r.exitCode}`));
    await serving();
    return server.pid!;
  };

  const stop = async (signal: NodeJS.Signals, graceMs: number): Promise<void> => {
    const running = server;
    if (!running) return;
    running.kill(signal);
    const timer = setTimeout(() => running.kill('SIGKILL'), graceMs);
    await running;
    clearTimeout(timer);
    server = undefined;
  };

  const temporal: PrivateTemporal = {
    address,
    dir,
    dbFile,
    pid: () => server?.pid,
    kill: () => stop('SIGKILL', 0),
    start,
    async remove() {
      await stop('SIGTERM', 15_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await start();
    await ensureSearchAttributes(address, 'default');
  } catch (err) {
    await temporal.remove();
    throw err;
  }
  return temporal;
}
