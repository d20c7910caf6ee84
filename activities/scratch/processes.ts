// Scratch processes for restore verification: a restored etcd and a kube-apiserver on free loopback
// ports, each with a pid file in its scratch directory, so that a later attempt (after the worker
// was killed) finds and stops what an earlier one left, and so that teardown happens in every outcome.
import { existsSync, readFileSync } from 'node:fs';
import { open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';

/** A scratch process started but did not come to serve. */
export class ScratchStartError extends Error {
  override readonly name = 'ScratchStartError';
}

/** A scratch process could not be started at all (no such binary, not executable). */
export class ScratchToolError extends Error {
  override readonly name = 'ScratchToolError';
}

/**
 * A scratch process lost its port to another socket between Lifeboat choosing it and the process
 * binding it: nothing to do with the snapshot, so not a verification failure. Retryable.
 */
export class ScratchPortTakenError extends Error {
  override readonly name = 'ScratchPortTakenError';
}

/** The kernel's range for outgoing connections' local ports (Linux), if it can be read. */
function ephemeralRange(): [number, number] | undefined {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return low && high ? [low, high] : undefined;
  } catch {
    return undefined;
  }
}

/** Scratch ports come from just below the kernel's outgoing range, so no outgoing connection takes one after it is chosen. */
const scratchPortSpan = 2_000;

const tryListen = (port: number) =>
  new Promise<number | undefined>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as { port: number };
      server.close(() => resolve(bound));
    });
  });

/**
 * A port free on 127.0.0.1 now, for a scratch process that binds it right after. Chosen at random
 * below the kernel's outgoing-connection range when that range is known: a port the kernel hands out
 * with listen(0) comes from that range, and an outgoing connection (an etcd client's, the worker's)
 * can take it in the moment before the process binds it.
 */
export async function freePort(): Promise<number> {
  const range = ephemeralRange();
  if (range && range[0] - scratchPortSpan > 1024) {
    for (let tries = 0; tries < 50; tries++) {
      const port = await tryListen(range[0] - 1 - Math.floor(Math.random() * scratchPortSpan));
      if (port) return port;
    }
  }
  const port = await tryListen(0);
  if (!port) throw new Error('no free port on 127.0.0.1');
  return port;
}

const pidFile = (dir: string, name: string) => join(dir, `${name}.pid`);
export const scratchLog = (dir: string, name: string) => join(dir, `${name}.log`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Is `pid` still the process we started for `dir` (and not an unrelated one that reused the number)? */
async function ownedBy(pid: number, dir: string): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes(dir);
}

async function stopPid(pid: number, graceMs: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) return;
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** Processes whose command line names `dir`: every scratch process has its files there. */
async function processesNaming(dir: string): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p)).map(Number);
  const named = await Promise.all(pids.map(async (pid) => ((await ownedBy(pid, dir)) ? [pid] : [])));
  return named.flat();
}

/**
 * Stops every process of `dir` and removes the directory: those its pid files name (if still ours) and
 * any other whose command line names it (a worker killed between starting a process and writing its
 * pid file). Idempotent: the start of every attempt and the runbook's final cleanup both call it.
 */
export async function removeScratch(dir: string): Promise<{ stoppedPids: number[]; removed: boolean }> {
  const stoppedPids: number[] = [];
  if (!existsSync(dir)) return { stoppedPids, removed: false };
  const fromFiles = await Promise.all(
    (await readdir(dir)).filter((f) => f.endsWith('.pid')).map(async (f) => Number((await readFile(join(dir, f), 'utf8')).trim())),
  );
  for (const pid of new Set([...fromFiles, ...(await processesNaming(dir))])) {
    if (pid > 0 && pid !== process.pid && alive(pid) && (await ownedBy(pid, dir))) {
      await stopPid(pid, 5_000);
      stoppedPids.push(pid);
    }
  }
  await rm(dir, { recursive: true, force: true });
  return { stoppedPids, removed: true };
}

export interface ScratchProcess {
  name: string;
  pid: number;
  /** The last lines of its log, for error messages. */
  logTail(): Promise<string>;
  /** Resolves (never rejects) when the process exits. */
  exited: Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts `command` with its output in `<dir>/<name>.log` and its pid in `<dir>/<name>.pid`. The log is
 * the process's own stdout and stderr (an open file it inherits), not a pipe through the worker: a
 * worker that dies must not take the process with it (a Go program dies of SIGPIPE at its first write
 * to a broken pipe, before a retry could find and stop it) nor lose its last lines.
 */
export async function startScratchProcess(dir: string, name: string, command: string, args: string[]): Promise<ScratchProcess> {
  // Created 0600 before the process writes to it: a log may quote what the process read.
  const log = await open(scratchLog(dir, name), 'a', 0o600);
  // execa spawns at once (a spawn error is in the promise); the child has its own copy of the descriptor.
  // (execa's types take a descriptor only as a number literal, hence the cast.)
  const fd = log.fd as 3;
  const child = execa(command, args, { stdin: 'ignore', stdout: fd, stderr: fd, reject: false, cleanup: true });
  await log.close();
  const pid = child.pid;
  if (pid === undefined) {
    const result = await child;
    throw new ScratchToolError(`could not start ${name} (${command}): ${result.shortMessage ?? 'no process'}`);
  }
  await writeFile(pidFile(dir, name), `${pid}\n`, { mode: 0o600 });
  const logTail = async () => (await readFile(scratchLog(dir, name), 'utf8').catch(() => '')).trim().split('\n').slice(-8).join('\n');
  const exited = child.then((r) => (r.signal ? `killed by ${r.signal}` : `exited with code ${r.exitCode}`));
  return { name, pid, logTail, exited, stop: () => stopPid(pid, 10_000) };
}

/**
 * Polls `ready` until it returns true, failing early if the process exits and after `timeoutMs`.
 * `beat` runs on every poll (heartbeats).
 */
export async function waitServing(proc: ScratchProcess, timeoutMs: number, ready: () => Promise<boolean>, beat: () => void): Promise<void> {
  let exit: string | undefined;
  void proc.exited.then((why) => {
    exit = why;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exit) {
      const tail = await proc.logTail();
      if (/address already in use/.test(tail))
        throw new ScratchPortTakenError(
          `scratch ${proc.name} ${exit} before serving: its port was taken meanwhile; last lines of its log:\n${tail}`,
        );
      throw new ScratchStartError(`scratch ${proc.name} ${exit} before serving; last lines of its log:\n${tail}`);
    }
    if (await ready().catch(() => false)) return;
    beat();
    await sleep(250);
  }
  throw new ScratchStartError(
    `scratch ${proc.name} not serving after ${timeoutMs / 1000}s; last lines of its log:\n${await proc.logTail()}`,
  );
}

/**
 * Removes scratch directories (and stops their processes) older than `maxAgeMs`: left by a worker that
 * was killed while its verification was then terminated, so no retry came to clean up. Younger ones
 * may belong to a verification another worker on this host is running.
 */
export async function sweepStaleScratch(root: string, maxAgeMs: number): Promise<string[]> {
  if (!existsSync(root)) return [];
  const swept: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(root, entry.name);
    const { mtimeMs } = await stat(dir);
    if (Date.now() - mtimeMs < maxAgeMs) continue;
    await removeScratch(dir);
    swept.push(dir);
  }
  return swept;
}
