// Scratch process bookkeeping (no lab: real processes on this machine): removeScratch stops only the
// processes it started, and the worker's start-up sweep removes only stale scratch directories.
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { execa, type ResultPromise } from 'execa';
import { removeScratch, startScratchProcess, sweepStaleScratch } from '../../../activities/scratch/processes.js';
import { alive } from '../../helpers/processes.js';

const root = mkdtempSync(join(tmpdir(), 'lifeboat-scratch-test-'));
const children: ResultPromise[] = [];
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children);
  rmSync(root, { recursive: true, force: true });
});

/** A long-running process whose command line names `dir`, with its pid file there, as a scratch etcd would be. */
async function scratchProcess(dir: string) {
  mkdirSync(dir, { recursive: true });
  const p = await startScratchProcess(dir, 'sleeper', process.execPath, ['-e', 'setTimeout(() => {}, 300000)', dir]);
  return p.pid;
}

describe('scratch processes', () => {
  it('removeScratch stops the processes its pid files name, and leaves a process that only reuses a pid', async () => {
    const dir = join(root, 'run-a');
    const pid = await scratchProcess(dir);
    const stranger = execa(process.execPath, ['-e', 'setTimeout(() => {}, 300000)'], { reject: false });
    children.push(stranger);
    writeFileSync(join(dir, 'stranger.pid'), `${stranger.pid}\n`);
    expect(alive(pid)).toBe(true);

    const removed = await removeScratch(dir);
    expect(removed).toEqual({ stoppedPids: [pid], removed: true });
    expect(alive(pid)).toBe(false);
    expect(alive(stranger.pid!)).toBe(true);
    expect(existsSync(dir)).toBe(false);
    expect(await removeScratch(dir)).toEqual({ stoppedPids: [], removed: false });
  });

  it('the start-up sweep removes only directories older than the limit', async () => {
    const old = join(root, 'old');
    const young = join(root, 'young');
    const oldPid = await scratchProcess(old);
    const youngPid = await scratchProcess(young);
    const threeHoursAgo = new Date(Date.now() - 3 * 3600_000);
    utimesSync(old, threeHoursAgo, threeHoursAgo);

    expect(await sweepStaleScratch(root, 2 * 3600_000)).toEqual([old]);
    expect(alive(oldPid)).toBe(false);
    expect(existsSync(old)).toBe(false);
    expect(alive(youngPid)).toBe(true);
    expect(existsSync(young)).toBe(true);
    await removeScratch(young);
    expect(alive(youngPid)).toBe(false);
  });

  it('a missing root sweeps nothing', async () => {
    expect(await sweepStaleScratch(join(root, 'absent'), 0)).toEqual([]);
  });
});
