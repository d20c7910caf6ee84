// Replays every committed workflow history against today's workflow code: a change to a workflow's
// command sequence that is not behind patched() fails here, not in production. No lab needed.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, jest } from '@jest/globals';

// Nondeterminism is deterministic: a history that does not replay fails every time, so one retry
// cannot hide it. It rides out the SDK's native runtime failing to start a replay worker now and then
// in a Jest process that ran other suites before ("replay_worker_new.args[0]: failed to downcast ...
// Runtime"), which is no finding about the histories.
jest.retryTimes(1, { logErrorsBeforeRetry: true });
import { Worker } from '@temporalio/worker';
import { workflowSource } from '../worker/worker.js';

const dir = fileURLToPath(new URL('../../test/histories/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

const workflowTypeOf = (file: string) =>
  (
    JSON.parse(readFileSync(`${dir}${file}`, 'utf8')) as {
      events: { workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }[];
    }
  ).events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;

describe('replay of committed histories', () => {
  it('has every history committed so far (more may be added), each of a workflow the worker registers', async () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'clusterHealth.json',
        'etcdSnapshot.json',
        'failover.json',
        'failover-before-hand-over.json',
        'gameDay-before-failover.json',
        'gameDay.json',
        'restoreVerification-etcd.json',
        'restoreVerification-velero.json',
        'veleroBackup.json',
        'runbook-plain.json',
        'runbook-approval.json',
        'runbook-compensated.json',
        'failback.json',
        'pruneEtcdSnapshots.json',
        'veleroRestoreVerification.json',
        'failover-approval-lifecycle.json',
        'pruneEtcdSnapshots-lifecycle-ok.json',
        'pruneEtcdSnapshots-lifecycle-fails.json',
      ]),
    );
    const registered = Object.keys(await import('../workflows/index.js'));
    expect(files.map((f) => [f, workflowTypeOf(f)]).filter(([, type]) => !registered.includes(type!))).toEqual([]);
  });

  it.each(files)('%s replays without nondeterminism', async (file) => {
    const history: unknown = JSON.parse(readFileSync(`${dir}${file}`, 'utf8'));
    // The recorded workflow ID, where the workflow builds commands from it (a game day's child IDs).
    const idFile = `${dir}${file.replace(/\.json$/, '.workflow-id')}`;
    const workflowId = existsSync(idFile) ? readFileSync(idFile, 'utf8').trim() : file;
    const result = await Worker.runReplayHistories({ ...workflowSource(), replayName: file }, [{ workflowId, history }]).next();
    expect(result.done).toBe(false);
    expect(result.value).toMatchObject({ workflowId, error: undefined });
  });
});
