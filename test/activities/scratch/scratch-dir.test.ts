// The scratch base and each attempt's directory (no lab: directories on this machine): the base is made
// 0700, closed when others may only enter it, refused when others may write it or it is a link; a run's
// attempts are found by their name, and no other run's are.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { createScratchDir, ensureScratchBase, ScratchDirUnsafeError, scratchDirsOf } from '../../../activities/scratch/scratch-dir.js';

const root = mkdtempSync(join(tmpdir(), 'lifeboat-scratch-dir-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const mode = (path: string) => statSync(path).mode & 0o777;

describe('scratch base', () => {
  it('is created 0700, with its parents', async () => {
    const base = join(root, 'new', 'deeper', 'scratch');
    await ensureScratchBase(base);
    expect(mode(base)).toBe(0o700);
  });

  it('one that others may read or enter is closed to 0700', async () => {
    const base = join(root, 'readable');
    mkdirSync(base);
    chmodSync(base, 0o755);
    await ensureScratchBase(base);
    expect(mode(base)).toBe(0o700);
  });

  it('one that others may write, or a link, is refused with the reason', async () => {
    const writable = join(root, 'writable');
    mkdirSync(writable);
    chmodSync(writable, 0o1777);
    await expect(ensureScratchBase(writable)).rejects.toThrow(
      new ScratchDirUnsafeError(
        writable,
        'is writable by its group and others (mode 0777); remove it or check its contents and chmod 700 it (a mount point such as an emptyDir is 0777: use a directory below it)',
      ),
    );
    const link = join(root, 'link');
    symlinkSync(join(root, 'readable'), link);
    await expect(ensureScratchBase(link)).rejects.toThrow(`scratch directory ${link} is a symbolic link;`);
    expect(mode(writable)).toBe(0o777);
  });
});

describe("a run's scratch directories", () => {
  it('are named <scratch id>-<16 random hex>, 0700, new each attempt, and found by the run alone', async () => {
    const base = join(root, 'runs');
    await ensureScratchBase(base);
    const id = 'verify-etcd_primary_x-0123456789ab';
    const first = await createScratchDir(base, id);
    const second = await createScratchDir(base, id);
    const other = await createScratchDir(base, `${id}-0123456789abcdef`); // a run whose id starts like this one's
    expect(basename(first)).toMatch(/^verify-etcd_primary_x-0123456789ab-[0-9a-f]{16}$/);
    expect(first).not.toBe(second);
    expect(mode(first)).toBe(0o700);
    mkdirSync(join(base, `${id}-not-random`));
    expect((await scratchDirsOf(base, id)).sort()).toEqual([first, second].sort());
    expect(await scratchDirsOf(base, `${id}-0123456789abcdef`)).toEqual([other]);
    expect(await scratchDirsOf(join(root, 'absent'), id)).toEqual([]);
    expect(existsSync(first)).toBe(true);
  });
});
