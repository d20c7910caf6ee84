// Starts the lab's daemons detached, records each by PID file, and stops only what it started:
// a PID is trusted only while /proc/PID/cmdline still names the executable recorded for it.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { logDir, runDir } from './topology.js';

export interface DaemonSpec {
  /** Unique component name, e.g. `kube-apiserver/primary`. */
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  /**
   * The command line the process has once running, when `command` is a wrapper that execs it
   * (`unshare ... postgres ...`): what the PID file's check and adoption look for. Default: command and args.
   */
  runsAs?: string[];
  /** The signal that stops it cleanly (PostgreSQL's fast shutdown is SIGINT). Default: SIGTERM. */
  stopSignal?: NodeJS.Signals;
}

interface PidRecord {
  pid: number;
  command: string;
  /** Digest of command, arguments and environment: a changed spec means a restart. */
  spec: string;
  startedAt: string;
  /** DaemonSpec.stopSignal, kept for `lab down`, which stops by name. */
  stopSignal?: NodeJS.Signals;
}

export const specDigest = (spec: DaemonSpec) =>
  createHash('sha256')
    .update(JSON.stringify([spec.command, spec.args, spec.env ?? {}]))
    .digest('hex');

const fileSafe = (name: string) => name.replace(/\//g, '-');
export const pidFile = (name: string) => join(runDir, `${fileSafe(name)}.pid`);
export const logFile = (name: string) => join(logDir, `${fileSafe(name)}.log`);

function commandLineOf(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

async function runningRecord(name: string): Promise<PidRecord | undefined> {
  if (!existsSync(pidFile(name))) return undefined;
  let record: PidRecord;
  try {
    record = JSON.parse(await readFile(pidFile(name), 'utf8')) as PidRecord;
  } catch (err) {
    // Written whole or not at all (writeRecord), but a lab before that left empty files when a worker
    // was killed mid-write: no record, and a start adopts the process by its command line.
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
  const argv = commandLineOf(record.pid);
  // A daemon that rewrites its process title (sshd: `sshd: /path/to/sshd -D ... [listener]`, one string)
  // keeps the executable's path as a word of it.
  const named = argv?.some((arg) => arg === record.command || arg.split(' ').includes(record.command));
  return named ? record : undefined;
}

/** The PID of a running daemon the lab started, or undefined. */
export async function runningPid(name: string): Promise<number | undefined> {
  return (await runningRecord(name))?.pid;
}

/** The spec digest of a running daemon the lab started, or undefined. */
export async function runningSpec(name: string): Promise<string | undefined> {
  return (await runningRecord(name))?.spec;
}

/**
 * Processes running exactly this spec's command line that no PID file records: what a start left that
 * died (a worker killed -9) between spawning the daemon and recording it.
 */
export function unrecordedPids(spec: DaemonSpec, recorded?: number): number[] {
  const want = spec.runsAs ?? [spec.command, ...spec.args];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === recorded) continue;
    const argv = commandLineOf(Number(entry));
    if (argv && argv.length === want.length && argv.every((a, i) => a === want[i])) pids.push(Number(entry));
  }
  return pids;
}

const runningCommand = (spec: DaemonSpec) => spec.runsAs?.[0] ?? spec.command;

/**
 * Records a daemon's PID file whole or not at all (a temporary file renamed over it): a process killed
 * mid-write (a worker killed -9 while its activity restarts a member) never leaves a truncated record,
 * and a reader never sees one half-written.
 */
async function writeRecord(name: string, record: PidRecord): Promise<void> {
  const temporary = `${pidFile(name)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, JSON.stringify(record));
  await rename(temporary, pidFile(name));
}

/**
 * Starts the daemon unless it already runs as specified; one running with another spec is restarted.
 * One running as specified without a PID file (its start died before recording it) is adopted, never
 * started twice.
 */
export async function startDaemon(spec: DaemonSpec): Promise<number> {
  const existing = await runningRecord(spec.name);
  if (existing?.spec === specDigest(spec)) return existing.pid;
  if (existing) await stopDaemon(spec.name, undefined, spec);
  const [adopt] = unrecordedPids(spec);
  if (adopt !== undefined) {
    await mkdir(runDir, { recursive: true });
    const record: PidRecord = {
      pid: adopt,
      command: runningCommand(spec),
      spec: specDigest(spec),
      startedAt: new Date().toISOString(),
      stopSignal: spec.stopSignal,
    };
    await writeRecord(spec.name, record);
    return adopt;
  }
  await mkdir(runDir, { recursive: true });
  await mkdir(logDir, { recursive: true });
  const log = openSync(logFile(spec.name), 'a');
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env },
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => resolve(child.pid!));
  });
  child.unref();
  const record: PidRecord = {
    pid,
    command: runningCommand(spec),
    spec: specDigest(spec),
    startedAt: new Date().toISOString(),
    stopSignal: spec.stopSignal,
  };
  await writeRecord(spec.name, record);
  return pid;
}

/** Resident memory of a process and all its descendants (Velero's plugins, Temporal's UI), in bytes. */
export function treeRssBytes(pid: number): number {
  let total = 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    total += Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean))
        total += treeRssBytes(Number(child));
    }
  } catch {
    // The process exited while being measured.
  }
  return total;
}

/**
 * SIGTERM (or the daemon's stopSignal), then SIGKILL after `graceMs`; the PID file goes once the process is gone. With `spec`, also
 * any process running exactly its command line that no PID file records (unrecordedPids). Returns
 * whether a process was stopped.
 */
export async function stopDaemon(name: string, graceMs = 15_000, spec?: DaemonSpec): Promise<boolean> {
  const record = await runningRecord(name);
  const recorded = record?.pid;
  const pids = [...(recorded ? [recorded] : []), ...(spec ? unrecordedPids(spec, recorded) : [])];
  for (const pid of pids) process.kill(pid, spec?.stopSignal ?? record?.stopSignal ?? 'SIGTERM');
  for (const deadline = Date.now() + graceMs; Date.now() < deadline && pids.some((pid) => commandLineOf(pid));) await sleep(100);
  for (const pid of pids.filter((p) => commandLineOf(p))) process.kill(pid, 'SIGKILL');
  await rm(pidFile(name), { force: true });
  return pids.length > 0;
}

/** The last lines of a daemon's log, to explain a failed start. */
export async function logTail(name: string, lines = 15): Promise<string> {
  try {
    return (await readFile(logFile(name), 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
