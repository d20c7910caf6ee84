// Proves that model/runbook/cel.ts (and the CEL library under it) runs in Temporal's workflow
// sandbox: the bundler refuses Node built-ins, and a replay runs the bundled code in the sandbox.
// No Temporal server is needed.
import { describe, expect, it } from '@jest/globals';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import type { CelInSandboxInput } from '../../fixtures/runbooks/cel-workflow.js';

const workflowsPath = fileURLToPath(new URL('../../fixtures/runbooks/cel-workflow.js', import.meta.url));
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const json = (value: unknown) => ({ metadata: { encoding: btoa('json/plain') }, data: btoa(JSON.stringify(value)) });

/** The five events of a workflow that completes in its first task, started with `input`. */
function historyOfOneTask(input: CelInSandboxInput, result: unknown) {
  const taskQueue = { name: 'cel-in-sandbox', kind: 'TASK_QUEUE_KIND_NORMAL' };
  const at = '2026-01-01T00:00:00Z';
  return {
    events: [
      {
        eventId: '1',
        eventTime: at,
        eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED',
        workflowExecutionStartedEventAttributes: {
          workflowType: { name: 'celInSandbox' },
          taskQueue,
          input: { payloads: [json(input)] },
          workflowTaskTimeout: '10s',
          originalExecutionRunId: '00000000-0000-0000-0000-000000000001',
          firstExecutionRunId: '00000000-0000-0000-0000-000000000001',
          attempt: 1,
          workflowId: 'cel-in-sandbox',
        },
      },
      {
        eventId: '2',
        eventTime: at,
        eventType: 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED',
        workflowTaskScheduledEventAttributes: { taskQueue, startToCloseTimeout: '10s', attempt: 1 },
      },
      {
        eventId: '3',
        eventTime: at,
        eventType: 'EVENT_TYPE_WORKFLOW_TASK_STARTED',
        workflowTaskStartedEventAttributes: { scheduledEventId: '2', requestId: 'r' },
      },
      {
        eventId: '4',
        eventTime: at,
        eventType: 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED',
        workflowTaskCompletedEventAttributes: { scheduledEventId: '2', startedEventId: '3' },
      },
      {
        eventId: '5',
        eventTime: at,
        eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED',
        workflowExecutionCompletedEventAttributes: { result: { payloads: [json(result)] }, workflowTaskCompletedEventId: '4' },
      },
    ],
  };
}

describe('CEL in the workflow sandbox', () => {
  it('bundles without Node built-ins and evaluates inside the sandbox', async () => {
    const { code } = await bundleWorkflowCode({ workflowsPath, logger: quiet });
    expect(code).toContain('celInSandbox');

    const input: CelInSandboxInput = {
      condition: 'params.replicas > 2 && steps.health.status == "succeeded"',
      template: { replicas: '${{ params.replicas * 2 }}', message: 'scale ${{ params.app }}' },
      context: { params: { replicas: 3, app: 'web' }, steps: { health: { status: 'succeeded' } } },
      expected: { condition: true, template: { replicas: 6, message: 'scale web' } },
    };
    const replay = (run: CelInSandboxInput) =>
      Worker.runReplayHistory(
        { workflowBundle: { code }, replayName: 'cel-in-sandbox' },
        historyOfOneTask(run, run.expected),
        'cel-in-sandbox',
      );
    await expect(replay(input)).resolves.toBeUndefined();
    // The replay really runs the code: a different answer fails it.
    await expect(replay({ ...input, expected: { condition: false, template: {} } })).rejects.toThrow('the sandbox computed something else');
  }, 120_000);
});
