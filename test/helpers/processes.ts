// Process checks for tests that look for what a scratch restore or a killed worker left running, and
// the crash of a lab process.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { runningPid } from '../../lab/processes.js';

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Pids and programs of the processes whose command line names `dir` (a scratch directory, say). */
export const processesNaming = (dir: string): { pid: number; program: string }[] =>
  readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .flatMap((pid) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return argv.some((a) => a.includes(dir)) ? [{ pid: Number(pid), program: argv[0]!.split('/').pop()! }] : [];
      } catch {
        return [];
      }
    });

/**
 * Whether a process has exited: gone, or a zombie (its sockets and files are closed by then). Its command
 * line is no sign: the kernel frees a dying process's memory, and with it what /proc shows as its command
 * line, before it closes its files, so a port can still be held by a process whose command line is empty.
 */
export const exited = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
};

/**
 * SIGKILLs a lab process (an etcd member, an API server) and waits until it has exited, its ports free
 * again: a crash, not a shutdown (a SIGSTOPped process dies of it too).
 */
export async function killLabProcess(name: string): Promise<void> {
  const pid = await runningPid(name);
  if (!pid) throw new Error(`lab process ${name} is not running`);
  process.kill(pid, 'SIGKILL');
  for (const deadline = Date.now() + 30_000; !exited(pid); await new Promise((r) => setTimeout(r, 100)))
    if (Date.now() > deadline) throw new Error(`lab process ${name} (pid ${pid}) has not exited 30 s after SIGKILL`);
}

/** A socket a process listens on: a TCP address and port, or a unix socket's path. */
export type ListeningSocket = { tcp: string; port: number } | { unix: string };

const hexAddress = (hex: string): string =>
  hex.length === 8
    ? Buffer.from(hex, 'hex').reverse().join('.')
    : (hex.match(/.{8}/g) ?? [])
        .map((w) =>
          Buffer.from(w, 'hex')
            .reverse()
            .toString('hex')
            .replace(/(.{4})/g, '$1:'),
        )
        .join('')
        .slice(0, -1);

/** The sockets process `pid` listens on, read from /proc (its open socket inodes, matched in the kernel's tables). */
export function listeningSockets(pid: number): ListeningSocket[] {
  const inodes = new Set(
    readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        return [/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1]].filter((x): x is string => !!x);
      } catch {
        return [];
      }
    }),
  );
  const out: ListeningSocket[] = [];
  for (const table of ['tcp', 'tcp6'])
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').trim().split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const [addr, port] = f[1]!.split(':');
      if (f[3] === '0A' && inodes.has(f[9]!)) out.push({ tcp: hexAddress(addr!), port: parseInt(port!, 16) });
    }
  for (const line of readFileSync(`/proc/${pid}/net/unix`, 'utf8').trim().split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // Flags 00010000: __SO_ACCEPTCON, a listening socket.
    if (f[3] === '00010000' && inodes.has(f[6]!)) out.push({ unix: f[7] ?? '(unnamed)' });
  }
  return out;
}
