// Replays every committed workflow history against today's workflow code: a change to a workflow's
// command sequence that is not behind patched() fails here, not in production. No lab needed.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { Worker } from '@temporalio/worker';
import { workflowSource } from '../worker/worker.js';

const dir = fileURLToPath(new URL('../../test/histories/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('replay of committed histories', () => {
  it('has histories to replay', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)('%s replays without nondeterminism', async (file) => {
    const history: unknown = JSON.parse(readFileSync(`${dir}${file}`, 'utf8'));
    const result = await Worker.runReplayHistories({ ...workflowSource(), replayName: file }, [{ workflowId: file, history }]).next();
    expect(result.done).toBe(false);
    expect(result.value).toMatchObject({ workflowId: file, error: undefined });
  });
});
