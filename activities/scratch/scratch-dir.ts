// Where scratch restores live on the worker: a base directory only this user can enter, and in it one
// directory per attempt, named `<run's scratch id>-<random>`.
//
// Why the name has both parts: the random part (from the CSPRNG) makes the path unpredictable, so no
// local process can prepare it (a link, a directory of its own) before the worker creates it; the
// run's part lets a retried attempt, and the workflow's final cleanup, find what an earlier attempt of
// the same run left (a worker killed -9 leaves processes and files) by listing the base for its
// prefix. The base is the record: nobody but this user can add an entry to it, so whatever carries the
// prefix there was made by this run, and nothing needs to be written to workflow history or heartbeat
// details (a worker killed before its first heartbeat would have recorded nothing there anyway).
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { failureTypes } from '../../model/failures.js';

/** The scratch base is not a directory only this user can use, and Lifeboat will not repair it on its own. */
export class ScratchDirUnsafeError extends Error {
  override readonly name = 'ScratchDirUnsafeError';
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`scratch directory ${path} ${problem}; it holds restored cluster data (Secrets included), so Lifeboat will not use it`);
  }
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

/**
 * Makes `root` (mode 0700) or checks the one there: it must be a real directory (not a link) owned by
 * this user and writable by nobody else. One that others may only read or enter is closed (chmod 700):
 * nothing in it is readable without entering it, and each attempt's directory is 0700 itself. One that
 * others may write is refused: anyone could have put things in it.
 */
export async function ensureScratchBase(root: string): Promise<void> {
  await mkdir(dirname(root), { recursive: true });
  await mkdir(root, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  const st = await lstat(root);
  if (st.isSymbolicLink()) throw new ScratchDirUnsafeError(root, 'is a symbolic link');
  if (!st.isDirectory()) throw new ScratchDirUnsafeError(root, 'is not a directory');
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new ScratchDirUnsafeError(root, `is owned by uid ${st.uid}, not this user (uid ${uid})`);
  if (st.mode & 0o022) {
    const who = [st.mode & 0o020 ? 'its group' : '', st.mode & 0o002 ? 'others' : ''].filter(Boolean).join(' and ');
    throw new ScratchDirUnsafeError(
      root,
      `is writable by ${who} (mode ${octal(st.mode)}); remove it or check its contents and chmod 700 it (a mount point such as an emptyDir is 0777: use a directory below it)`,
    );
  }
  if (st.mode & 0o077) await chmod(root, 0o700);
}

/** ensureScratchBase for an activity: an unsafe base is a non-retryable ScratchDirUnsafe failure (a retry finds it the same). */
export async function ensureScratchBaseForActivity(root: string): Promise<void> {
  await ensureScratchBase(root).catch((err: unknown) => {
    throw err instanceof ScratchDirUnsafeError ? ApplicationFailure.nonRetryable(err.message, failureTypes.ScratchDirUnsafe) : err;
  });
}

/** Whether `root` is a directory only this user may write (so what is in it was put there by this user). */
export async function isPrivateScratchBase(root: string): Promise<boolean> {
  const st = await lstat(root).catch(() => undefined);
  const uid = process.getuid?.();
  return !!st && st.isDirectory() && (uid === undefined || st.uid === uid) && (st.mode & 0o022) === 0;
}

const safeId = (scratchId: string) => scratchId.replace(/[^A-Za-z0-9._-]/g, '_');

/** The directories under `root` that attempts of run `scratchId` made (real directories only). */
export async function scratchDirsOf(root: string, scratchId: string): Promise<string[]> {
  const prefix = `${safeId(scratchId)}-`;
  const ours = (name: string) => name.startsWith(prefix) && /^[0-9a-f]{16}$/.test(name.slice(prefix.length));
  const entries = await readdir(root, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  return entries.filter((e) => e.isDirectory() && ours(e.name)).map((e) => join(root, e.name));
}

/** Creates this attempt's directory (0700, and never one that is already there): `<root>/<scratchId>-<16 random hex>`. */
export async function createScratchDir(root: string, scratchId: string): Promise<string> {
  const dir = join(root, `${safeId(scratchId)}-${randomBytes(8).toString('hex')}`);
  await mkdir(dir, { mode: 0o700 });
  return dir;
}
