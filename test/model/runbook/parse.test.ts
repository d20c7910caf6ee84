import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatProblems, parseRunbook, type Problem } from '../../../model/runbook/parse.js';
import { approverGroups, testBlocks } from './test-blocks.js';

const fixtures = fileURLToPath(new URL('../../../../test/fixtures/runbooks/', import.meta.url));
const options = { blocks: testBlocks, approverGroups, knownApprovers: ['alice', 'bob', 'carol'] };
const parseFixture = (name: string) => parseRunbook(name, readFileSync(`${fixtures}${name}`, 'utf8'), options);

describe('good runbooks', () => {
  it('parses the smallest runbook and writes the defaults in', () => {
    expect(parseFixture('good/minimal.yaml')).toEqual({
      ok: true,
      document: {
        apiVersion: 'lifeboat.io/v1',
        kind: 'Runbook',
        metadata: { name: 'minimal' },
        parameters: {},
        steps: [{ id: 'health', run: 'clusterHealth', with: { cluster: 'prod-east' }, onFailure: 'fail' }],
      },
    });
  });

  it('parses approvals, forEach, compensation, when and outputs', () => {
    const result = parseFixture('good/drain-node.yaml');
    if (!result.ok) throw new Error(formatProblems(result.problems).join('\n'));
    const [cordon, approve, scale] = result.document.steps;
    expect(result.document.parameters.replicas).toEqual({ type: 'number', required: false, default: 3, enum: [1, 3, 5] });
    expect(cordon).toMatchObject({ when: '!params.dryRun', retry: 'quick', timeout: '30s', onFailure: 'compensate' });
    expect(cordon?.compensate).toEqual([
      { id: 'uncordon', action: 'uncordonNode', with: { cluster: '${{ params.cluster }}', node: '${{ params.node }}' }, onFailure: 'fail' },
    ]);
    expect(cordon?.outputs).toEqual({ cordoned: 'steps.cordon.status == "succeeded"' });
    expect(approve?.approval).toEqual({
      approvers: ['group:sre', 'carol'],
      count: 2,
      timeout: '4h',
      fourEyes: false,
      show: 'Move workloads off ${{ params.node }} in ${{ params.cluster }} (cordoned ${{ steps.cordon.outputs.cordoned }})?',
    });
    expect(scale?.forEach?.as).toBe('app');
    expect(scale?.forEach?.concurrency).toBe(2);
    expect(scale?.forEach?.steps.map((step) => step.id)).toEqual(['scale-app', 'tell']);
  });

  it('parses parallel branches and a schedule with its defaults', () => {
    const result = parseFixture('good/nightly-verification.yaml');
    if (!result.ok) throw new Error(formatProblems(result.problems).join('\n'));
    expect(result.document.schedule).toEqual({
      cron: '0 3 * * *',
      overlap: 'bufferOne',
      catchupWindow: '6h',
      parameters: { primary: 'prod-east' },
    });
    expect(result.document.steps[0]?.parallel?.map((step) => step.id)).toEqual(['health', 'snapshot']);
    expect(result.document.steps[1]?.when).toBe('steps.checks.outputs.allHealthy');
  });

  it('fills in the schedule defaults', () => {
    const text = readFileSync(`${fixtures}good/minimal.yaml`, 'utf8') + 'schedule:\n  cron: "@hourly"\n';
    const result = parseRunbook('minimal.yaml', text, options);
    expect(result.ok && result.document.schedule).toEqual({ cron: '@hourly', overlap: 'skip', catchupWindow: '1h', parameters: {} });
  });
});

/** Fixture under bad/, then each problem it must produce as [line, col, path, message]. */
type Expected = [string, ...Array<[number, number, string, string]>];

const malformed: Expected[] = [
  ['activity-written-as-run', [12, 10, 'steps[0].run', '"cordonNode" is an activity; write action:']],
  [
    'approval-count-exceeds-approvers',
    [14, 14, 'steps[0].approval.count', '3 approvals are required but only 2 distinct approvers are named'],
  ],
  ['approval-show-unknown-parameter', [15, 13, 'steps[0].approval.show', 'unknown parameter "app"; declared: cluster']],
  ['approval-unknown-approver', [9, 26, 'steps[0].approval.approvers[1]', 'unknown approver "dave"; known approvers: alice, bob, carol']],
  ['approval-unknown-group', [13, 19, 'steps[0].approval.approvers[0]', 'unknown approver group "oncall"; configured groups: sre, dba']],
  ['approval-without-approvers', [13, 18, 'steps[0].approval.approvers', 'expected at least one approver (a name or group:<name>)']],
  ['approval-without-timeout', [13, 7, 'steps[0].approval.timeout', 'missing required key (expected string)']],
  ['block-input-interpolated-text-for-number', [17, 17, 'steps[0].with.replicas', 'Invalid input: expected number, received string']],
  ['block-input-missing-field', [14, 7, 'steps[0].with.name', 'missing required key (expected string)']],
  ['block-input-unknown-field', [15, 7, 'steps[0].with.compress', 'unknown key "compress"']],
  ['block-input-wrong-type', [17, 17, 'steps[0].with.replicas', 'Invalid input: expected number, received string']],
  ['duplicate-step-id', [17, 13, 'steps[1].parallel[0].id', 'duplicate step id "health"; step ids are unique in the whole runbook']],
  ['duplicate-yaml-key', [13, 5, 'steps[0].run', 'duplicate key "run"; a key may appear once in a mapping']],
  ['empty-document', [1, 1, '', 'the document is empty; expected apiVersion, kind, metadata and steps']],
  ['empty-steps', [10, 8, 'steps', 'expected at least one step']],
  ['foreach-concurrency-over-limit', [14, 20, 'steps[0].forEach.concurrency', 'Too big: expected number to be <=50']],
  [
    'foreach-inner-step-referenced-outside',
    [24, 11, 'steps[1].when', 'step "scale" has not finished at this point; only earlier steps can be referenced'],
  ],
  ['foreach-items-not-a-list', [13, 14, 'steps[0].forEach.items', 'expected an expression that yields list; this one yields string']],
  ['foreach-variable-shadows-params', [14, 11, 'steps[0].forEach.as', '"params" is already a name in CEL here; choose another']],
  [
    'forward-step-reference',
    [13, 11, 'steps[0].when', 'step "health" has not finished at this point; only earlier steps can be referenced'],
  ],
  ['loop-variable-outside-foreach', [27, 16, 'steps[1].with.message', '"app" is defined only inside the steps of forEach "each"']],
  ['metadata-name-not-dns-label', [5, 9, 'metadata.name', 'expected a DNS label: lowercase letters, digits and "-", at most 63']],
  ['missing-metadata-name', [5, 3, 'metadata.name', 'missing required key (expected string)']],
  [
    'output-name-not-cel-name',
    [16, 7, 'steps[0].outputs.is-healthy', 'invalid key: expected a name of letters, digits and "_", not starting with a digit'],
  ],
  [
    'parallel-sibling-reference',
    [19, 15, 'steps[0].parallel[1].when', 'step "health" has not finished at this point; only earlier steps can be referenced'],
  ],
  ['parameter-default-not-in-enum', [9, 14, 'parameters.cluster.default', 'expected one of "prod-east", "prod-west"']],
  ['parameter-default-wrong-type', [12, 14, 'parameters.replicas.default', 'expected a number']],
  [
    'parameter-name-not-cel-name',
    [7, 3, 'parameters.target-cluster', 'invalid key: expected a name of letters, digits and "_", not starting with a digit'],
  ],
  [
    'parameter-unknown-type',
    [8, 11, 'parameters.cluster.type', 'Invalid option: expected one of "string"|"number"|"boolean"|"duration"|"cluster"|"app"|"node"'],
  ],
  ['retry-on-approval', [12, 5, 'steps[0].retry', 'retry applies only to run and action steps']],
  [
    'schedule-bad-cron',
    [11, 9, 'schedule.cron', 'expected a cron expression of five fields (e.g. "0 3 * * *") or @hourly, @daily, @weekly, @monthly, @yearly'],
  ],
  [
    'schedule-missing-required-parameter',
    [11, 3, 'schedule.parameters', 'required parameter "cluster" has no default, so the schedule must give it'],
  ],
  [
    'schedule-unknown-overlap',
    [
      12,
      12,
      'schedule.overlap',
      'Invalid option: expected one of "skip"|"bufferOne"|"bufferAll"|"cancelOther"|"terminateOther"|"allowAll"',
    ],
  ],
  ['schedule-unknown-parameter', [14, 5, 'schedule.parameters.region', 'unknown parameter "region"; declared: cluster']],
  [
    'self-reference-in-when',
    [15, 11, 'steps[0].when', 'step "health" has not finished at this point; only earlier steps can be referenced'],
  ],
  [
    'several-problems',
    [14, 16, 'steps[0].with.cluster', 'unknown parameter "clustr"; declared: cluster'],
    [17, 12, 'steps[1].retry', 'unknown retry profile "forever"; expected one of none, quick, standard, patient'],
    [22, 17, 'steps[1].with.replicas', 'Too small: expected number to be >=0'],
    [23, 9, 'steps[2].id', 'duplicate step id "health"; step ids are unique in the whole runbook'],
  ],
  [
    'step-id-not-dns-label',
    [11, 9, 'steps[0].id', 'expected a step id: a lowercase letter, then lowercase letters, digits, "-" or "_", at most 63'],
  ],
  [
    'step-with-two-kinds',
    [13, 5, 'steps[0].action', 'expected exactly one of run, action, approval, parallel, forEach; this step has run and action'],
  ],
  ['step-without-kind', [11, 5, 'steps[0]', 'expected exactly one of run, action, approval, parallel, forEach']],
  ['template-does-not-compile', [14, 16, 'steps[0].with.cluster', 'expression "params.cluster +" does not compile: Unexpected token: EOF']],
  ['template-not-closed', [14, 16, 'steps[0].with.cluster', 'expected "}}" to close "${{" in "${{ params.cluster"']],
  ['timeout-not-a-duration', [15, 14, 'steps[0].timeout', 'expected a duration such as 90s, 15m, 4h or 30d']],
  [
    'unknown-action-block',
    [
      12,
      13,
      'steps[0].action',
      'unknown building block "scaleStatefulSet"; registered activities: scaleDeployment, cordonNode, uncordonNode, notify',
    ],
  ],
  ['unknown-cel-name', [14, 16, 'steps[0].with.cluster', 'unknown name "cluster"; expected params, steps, run or a forEach variable']],
  ['unknown-output-reference', [19, 11, 'steps[1].when', 'step "health" has no output "ready"; its outputs: healthy']],
  ['unknown-parameter-reference', [14, 16, 'steps[0].with.cluster', 'unknown parameter "clustr"; declared: cluster']],
  [
    'unknown-retry-profile',
    [15, 12, 'steps[0].retry', 'unknown retry profile "aggressive"; expected one of none, quick, standard, patient'],
  ],
  ['unknown-run-field-reference', [19, 16, 'steps[1].with.message', 'unknown field in run.user; run has id, runId, startedBy']],
  [
    'unknown-step-field-reference',
    [
      19,
      16,
      'steps[1].with.message',
      'unknown field in steps.health.state; expected steps.health.outputs, steps.health.status, steps.health.result',
    ],
  ],
  ['unknown-step-key', [13, 5, 'steps[0].retries', 'unknown key "retries"']],
  ['unknown-step-reference', [19, 16, 'steps[1].with.message', 'unknown step "helth" in steps.helth.status']],
  ['unknown-top-level-key', [10, 1, 'triggers', 'unknown key "triggers"']],
  [
    'unknown-workflow-block',
    [12, 10, 'steps[0].run', 'unknown building block "clusterHelth"; registered workflows: clusterHealth, etcdSnapshot'],
  ],
  ['when-does-not-compile', [15, 11, 'steps[0].when', 'expression does not compile: Unexpected token: EOF']],
  ['when-not-bool', [15, 11, 'steps[0].when', 'expected an expression that yields bool; this one yields int']],
  ['when-wrapped-in-template', [15, 11, 'steps[0].when', 'expected a bare CEL expression here, without ${{ }}']],
  ['with-on-approval', [15, 5, 'steps[0].with', 'with applies only to run and action steps']],
  ['wrong-api-version', [2, 13, 'apiVersion', 'Invalid input: expected "lifeboat.io/v1"']],
  ['wrong-kind', [3, 7, 'kind', 'Invalid input: expected "Runbook"']],
  [
    'yaml-syntax-error',
    [16, 13, 'steps[1].action["notify with"]', 'Nested mappings are not allowed in compact mappings'],
    [16, 13, 'steps[1].action["notify with"]', 'Implicit keys need to be on a single line'],
  ],
];

describe('malformed runbooks are refused with file, line, column, path and what was expected', () => {
  it.each(malformed)('%s', (name, ...expected) => {
    const file = `bad/${name}.yaml`;
    const problems: Problem[] = expected.map(([line, col, path, message]) => ({ file, line, col, path, message }));
    expect(parseFixture(file)).toEqual({ ok: false, problems });
  });

  it('formats problems as file:line:col: path: message', () => {
    const result = parseFixture('bad/several-problems.yaml');
    expect(result.ok ? [] : formatProblems(result.problems)).toEqual([
      'bad/several-problems.yaml:14:16: steps[0].with.cluster: unknown parameter "clustr"; declared: cluster',
      'bad/several-problems.yaml:17:12: steps[1].retry: unknown retry profile "forever"; expected one of none, quick, standard, patient',
      'bad/several-problems.yaml:22:17: steps[1].with.replicas: Too small: expected number to be >=0',
      'bad/several-problems.yaml:23:9: steps[2].id: duplicate step id "health"; step ids are unique in the whole runbook',
    ]);
  });

  it('leaves the path out for the document itself', () => {
    const result = parseFixture('bad/empty-document.yaml');
    expect(result.ok ? [] : formatProblems(result.problems)).toEqual([
      'bad/empty-document.yaml:1:1: the document is empty; expected apiVersion, kind, metadata and steps',
    ]);
  });
});
