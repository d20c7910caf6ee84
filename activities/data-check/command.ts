// A data check's command: run without a shell in a process group of its own, so that at its timeout
// (or a cancellation) the whole group is killed, grandchildren too, and nothing it started outlives it;
// its output is kept bounded (the tail) for the report.
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';

/** How much of a command's output (stdout and stderr, interleaved) a report keeps: the last 4 KiB. */
export const maxCheckOutputBytes = 4096;

/** How long a group has between SIGTERM and SIGKILL. */
export const killGraceMs = 5000;

/** The last `limit` bytes of a stream, and how many it carried in all. */
export class OutputTail {
  #chunks: Buffer[] = [];
  #kept = 0;
  total = 0;
  constructor(readonly limit: number) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    this.#chunks.push(chunk);
    this.#kept += chunk.length;
    while (this.#kept - this.#chunks[0]!.length >= this.limit) this.#kept -= this.#chunks.shift()!.length;
  }

  /** The tail as text, with how much came before it when some was left out. */
  text(): string {
    const all = Buffer.concat(this.#chunks);
    const tail = all.subarray(Math.max(0, all.length - this.limit));
    const text = new TextDecoder('utf-8', { fatal: false }).decode(tail);
    return this.total > tail.length ? `[${this.total - tail.length} bytes before this left out]\n${text}` : text;
  }
}

export interface CommandOutcome {
  /** The exit status; undefined when a signal ended it or it never started. */
  exitCode?: number;
  /** The signal that ended it, e.g. SIGTERM. */
  signal?: string;
  timedOut: boolean;
  cancelled: boolean;
  /** Why it could not be started (no such program, not executable), with the system's error code. */
  startError?: { code: string | undefined; message: string };
  /** The tail of stdout and stderr, interleaved as written. */
  output: string;
  outputBytes: number;
  milliseconds: number;
}

export interface CommandOptions {
  /** The whole environment the command gets (nothing is inherited). */
  env: Record<string, string>;
  timeoutMs: number;
  /** Kills the group when it aborts (the activity's cancellation). */
  signal?: AbortSignal;
  /** Called every `progressEveryMs` while it runs (a heartbeat). */
  onProgress?: (progress: { elapsedSeconds: number; outputBytes: number }) => void;
  progressEveryMs?: number;
  /** Default: {@link killGraceMs}. */
  graceMs?: number;
}

/** Start errors that a retry cannot fix, and what they mean. */
export const startErrors: Record<string, string> = {
  ENOENT: 'no such program (or a directory of its path is missing)',
  EACCES: 'not executable by this user',
  ENOTDIR: 'a part of its path is not a directory',
};

/**
 * Runs `argv` (no shell) as the leader of a new process group (and session) and waits for it. At the
 * timeout or an abort the group gets SIGTERM, then SIGKILL after the grace; when the leader exits, what
 * it left running in its group is killed too, and this returns once the group is gone. A process that moved itself to another session escapes
 * this, as it escapes a terminal's hangup.
 */
export async function runInProcessGroup(argv: readonly string[], options: CommandOptions): Promise<CommandOutcome> {
  const started = performance.now();
  const tail = new OutputTail(maxCheckOutputBytes);
  const subprocess = execa(argv[0]!, argv.slice(1), {
    env: options.env,
    extendEnv: false,
    detached: true,
    cleanup: false,
    stdin: 'ignore',
    all: true,
    buffer: false,
    reject: false,
  });
  const group = subprocess.pid;
  const killGroup = (signal: NodeJS.Signals) => {
    if (group === undefined) return;
    try {
      process.kill(-group, signal);
    } catch {
      // ESRCH: nobody left in the group.
    }
  };
  let timedOut = false;
  let cancelled = false;
  let graceTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    killGroup('SIGTERM');
    graceTimer ??= setTimeout(() => killGroup('SIGKILL'), options.graceMs ?? killGraceMs);
  };
  const deadline = setTimeout(() => {
    timedOut = true;
    stop();
  }, options.timeoutMs);
  const onAbort = () => {
    cancelled = true;
    stop();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  const progress = options.onProgress
    ? setInterval(
        () => options.onProgress!({ elapsedSeconds: Math.round((performance.now() - started) / 1000), outputBytes: tail.total }),
        options.progressEveryMs ?? 5000,
      )
    : undefined;
  // The leader gone, what it left in its group (a background job) goes too; the output pipes then close.
  subprocess.nodeChildProcess.once('exit', () => killGroup('SIGKILL'));
  subprocess.all?.on('data', (chunk: Buffer) => tail.push(chunk));
  try {
    const result = await subprocess;
    const code = (result.cause as NodeJS.ErrnoException | undefined)?.code;
    const startError =
      result.exitCode === undefined && result.signal === undefined && !timedOut && !cancelled
        ? { code, message: `could not be started: ${(code && startErrors[code]) ?? result.shortMessage}` }
        : undefined;
    return {
      ...(result.exitCode !== undefined ? { exitCode: result.exitCode } : {}),
      ...(result.signal !== undefined ? { signal: result.signal } : {}),
      timedOut,
      cancelled,
      ...(startError ? { startError } : {}),
      output: tail.text(),
      outputBytes: tail.total,
      milliseconds: Math.round(performance.now() - started),
    };
  } finally {
    clearTimeout(deadline);
    clearTimeout(graceTimer);
    clearInterval(progress);
    options.signal?.removeEventListener('abort', onAbort);
    killGroup('SIGKILL');
    await groupGone(group);
  }
}

/** How long a SIGKILLed group is waited for: the kernel ends its processes in moments, but not at once. */
const groupGoneWaitMs = 2000;

/** Waits until no process of the group exists (bounded): the check is over only when its processes are. */
async function groupGone(group: number | undefined): Promise<void> {
  if (group === undefined) return;
  for (const until = Date.now() + groupGoneWaitMs; Date.now() < until; await sleep(20)) {
    try {
      process.kill(-group, 0);
    } catch {
      return;
    }
  }
}
