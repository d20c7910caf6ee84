import { z } from 'zod';
import { durationExpectation, durationPattern } from '../durations.js';

/**
 * The runbook document language. This zod schema is the one source: the parser validates with it,
 * `runbooks/runbook.schema.json` is generated from it, and the interpreter takes its output type.
 * Rules that span fields (references, block inputs, approvers) live in validate.ts.
 */

const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, { error: 'expected a DNS label: lowercase letters, digits and "-", at most 63' });

/** Step ids are also CEL names: `steps.scale_down` reads with a dot, `steps["scale-down"]` with an index. */
const stepId = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, {
  error: 'expected a step id: a lowercase letter, then lowercase letters, digits, "-" or "_", at most 63',
});

/** Names used inside CEL (`params.<name>`, `outputs`, a forEach variable) must be CEL identifiers. */
const celName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected a name of letters, digits and "_", not starting with a digit' });

const duration = z.string().regex(durationPattern, { error: `expected ${durationExpectation}` });

/** A CEL expression written bare (no `${{ }}`), as in `when` or `forEach.items`. */
const celExpression = z.string().min(1, { error: 'expected a CEL expression' });

const scalar = z.union([z.string(), z.number(), z.boolean()]);

export const parameterTypes = ['string', 'number', 'boolean', 'duration', 'cluster', 'app', 'node'] as const;
export type ParameterType = (typeof parameterTypes)[number];

export const parameterSchema = z.strictObject({
  type: z.enum(parameterTypes),
  description: z.string().optional(),
  /** A required parameter without a default must be given at run time. Default: false. */
  required: z.boolean().default(false),
  default: scalar.optional(),
  enum: z
    .array(z.union([z.string(), z.number()]))
    .min(1)
    .optional(),
});

export const overlapPolicies = ['skip', 'bufferOne', 'bufferAll', 'cancelOther', 'terminateOther', 'allowAll'] as const;

export const scheduleSchema = z.strictObject({
  /** Five fields (minute hour day-of-month month day-of-week) or a macro such as `@daily`. */
  cron: z.string().regex(/^(@(yearly|annually|monthly|weekly|daily|hourly)|\S+( \S+){4})$/, {
    error: 'expected a cron expression of five fields (e.g. "0 3 * * *") or @hourly, @daily, @weekly, @monthly, @yearly',
  }),
  /** What Temporal does when a run is still going at the next time. Default: skip. */
  overlap: z.enum(overlapPolicies).default('skip'),
  /** How far back missed runs are caught up after an outage of the scheduler. Default: 1h. */
  catchupWindow: duration.default('1h'),
  /** Parameter values for scheduled runs (nobody is there to give them). */
  parameters: z.record(z.string(), scalar).default({}),
});

export const approvalSchema = z.strictObject({
  /** People by name, or `group:<name>` for a group from the configuration. */
  approvers: z.array(z.string().min(1)).min(1, { error: 'expected at least one approver (a name or group:<name>)' }),
  /** How many distinct approvers must approve. Default: 1. */
  count: z.int().min(1).default(1),
  /** How long to wait for the approvals before the step fails. */
  timeout: duration,
  /** What the approver sees; may interpolate `${{ }}`. */
  show: z.string().optional(),
  /** Who started the run may not approve it (four eyes). Default: false. */
  fourEyes: z.boolean().default(false),
  /**
   * An approval given when the run started (a game day's, `--auto-approve --approver`), e.g.
   * `${{ params.approver }}`; empty waits for the approvers as usual. The name given obeys the same
   * rules: one of the approvers and, with `fourEyes`, not who started the run.
   */
  approvedBy: z.string().optional(),
});

export type Step = {
  id: string;
  name?: string | undefined;
  description?: string | undefined;
  run?: string | undefined;
  action?: string | undefined;
  with?: Record<string, unknown> | undefined;
  approval?: z.output<typeof approvalSchema> | undefined;
  parallel?: Step[] | undefined;
  forEach?: ForEach | undefined;
  when?: string | undefined;
  timeout?: string | undefined;
  retry?: string | undefined;
  onFailure: 'fail' | 'continue' | 'compensate';
  compensate?: Step[] | undefined;
  outputs?: Record<string, string> | undefined;
};

export type ForEach = { items: string; as: string; concurrency: number; steps: Step[] };

const steps = (): z.ZodType<Step[]> => z.array(stepSchema).min(1, { error: 'expected at least one step' });

export const forEachSchema: z.ZodType<ForEach> = z.strictObject({
  /** CEL yielding the list to iterate over. */
  items: celExpression,
  /** The name of the current item inside `steps`. Default: item. */
  as: celName.default('item'),
  /** How many items run at once. Default: 1 (one after the other); at most 50. */
  concurrency: z.int().min(1).max(50).default(1),
  get steps() {
    return steps();
  },
});

export const stepSchema: z.ZodType<Step> = z
  .strictObject({
    id: stepId,
    name: z.string().optional(),
    description: z.string().optional(),
    /** A workflow building block, started as a child workflow. */
    run: z.string().optional(),
    /** An activity building block. */
    action: z.string().optional(),
    /** Input of the `run`/`action` block; strings may hold `${{ <CEL> }}`. */
    with: z.record(z.string(), z.unknown()).optional(),
    approval: approvalSchema.optional(),
    /** Branches run at once; a failed branch cancels its siblings. */
    get parallel() {
      return steps().optional();
    },
    forEach: forEachSchema.optional(),
    /** CEL that must yield a bool; the step is skipped when false. */
    when: celExpression.optional(),
    timeout: duration.optional(),
    /** A named retry profile (retry-profiles.ts); only on `run` and `action` steps. */
    retry: z.string().optional(),
    /** `fail` stops the runbook, `continue` goes on, `compensate` runs the saga. Default: fail. */
    onFailure: z.enum(['fail', 'continue', 'compensate']).default('fail'),
    /** Steps that undo this one, run in reverse order when the runbook compensates. */
    get compensate() {
      return steps().optional();
    },
    /** Named CEL values recorded after the step, read later as `steps.<id>.outputs.<name>`. */
    outputs: z.record(celName, celExpression).optional(),
  })
  .meta({ id: 'Step' });

export const runbookSchema = z.strictObject({
  apiVersion: z.literal('lifeboat.io/v1'),
  kind: z.literal('Runbook'),
  metadata: z.strictObject({
    name: dnsLabel,
    description: z.string().optional(),
    owner: z.string().optional(),
  }),
  parameters: z.record(celName, parameterSchema).default({}),
  schedule: scheduleSchema.optional(),
  get steps() {
    return steps();
  },
});

export type RunbookDocument = z.output<typeof runbookSchema>;
export type Parameter = z.output<typeof parameterSchema>;
export type Approval = z.output<typeof approvalSchema>;
