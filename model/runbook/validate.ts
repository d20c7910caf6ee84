import type { z } from 'zod';
import type { BlockRegistry } from './blocks.js';
import { compileExpression, parseTemplate, templateExpressions, type CompiledExpression, type Reference } from './cel.js';
import { durationExpectation, durationPattern } from '../durations.js';
import { isRetryProfileName, retryProfileNames } from './retry-profiles.js';
import type { Parameter, RunbookDocument, Step } from './schema.js';

/** Where a finding is, as keys and indices from the document's root: `['steps', 2, 'with', 'cluster']`. */
export type DocumentPath = ReadonlyArray<string | number>;

export interface Finding {
  readonly path: DocumentPath;
  readonly message: string;
  /** True when the finding is about the key at the end of `path` itself (an unknown key). */
  readonly atKey?: boolean;
}

export interface ValidationOptions {
  /** The building blocks that `run:` and `action:` may name. */
  readonly blocks: BlockRegistry;
  /** Approver groups from the configuration, by name. Default: none, so every `group:<name>` is unknown. */
  readonly approverGroups?: Readonly<Record<string, readonly string[]>>;
  /** People who may approve. Default: undefined, meaning any name is accepted. */
  readonly knownApprovers?: readonly string[];
}

/** Pass to `safeParse` so a missing key reads as such, not as "expected string, received undefined". */
export const documentErrorMap: z.core.$ZodErrorMap = (issue) =>
  issue.code === 'invalid_type' && issue.input === undefined ? `missing required key (expected ${issue.expected})` : undefined;

/** Zod issues as findings; one per unknown key, at the key. */
export function findingsFromZod(error: z.ZodError, base: DocumentPath = []): Finding[] {
  return error.issues.flatMap((issue): Finding[] => {
    const path = [...base, ...issue.path.map((part) => (typeof part === 'symbol' ? String(part) : part))];
    if (issue.code === 'unrecognized_keys')
      return issue.keys.map((key) => ({ path: [...path, key], message: `unknown key "${key}"`, atKey: true }));
    if (issue.code === 'invalid_key') return [{ path, message: `invalid key: ${issue.issues[0]?.message ?? issue.message}`, atKey: true }];
    return [{ path, message: issue.message }];
  });
}

const stepKinds = ['run', 'action', 'approval', 'parallel', 'forEach'] as const;
const stepFields = ['outputs', 'status', 'result'];
/** `run.id` is the workflow ID (a lock, for runs started under one), `run.runId` this run's own: what activities name their objects after. */
const runFields = ['id', 'runId', 'startedBy'];
const reservedNames = new Set(['params', 'steps', 'run']);

interface Scope {
  /** Steps that have finished before this point, by id. */
  readonly visible: ReadonlyMap<string, Step>;
  /** forEach variables in scope → the forEach step's id. */
  readonly loopVariables: ReadonlyMap<string, string>;
}

/** Checks what the schema cannot: blocks and their inputs, references, approvers, parameter values. */
export function validateRunbook(document: RunbookDocument, options: ValidationOptions): Finding[] {
  const findings: Finding[] = [];
  const report = (path: DocumentPath, message: string, atKey = false): void => {
    findings.push({ path, message, atKey });
  };
  const groups = options.approverGroups ?? {};
  const declared = Object.keys(document.parameters);
  const unknownParameter = (name: string) =>
    `unknown parameter "${name}"; ${declared.length ? `declared: ${declared.join(', ')}` : 'the runbook declares no parameters'}`;
  const allSteps = new Map<string, Step>();
  const loopOwners = new Map<string, string>();

  const collect = (list: readonly Step[], base: DocumentPath) =>
    list.forEach((step, index) => {
      const path = [...base, index];
      if (allSteps.has(step.id)) report([...path, 'id'], `duplicate step id "${step.id}"; step ids are unique in the whole runbook`);
      else allSteps.set(step.id, step);
      if (step.forEach) loopOwners.set(step.forEach.as, step.id);
      if (step.parallel) collect(step.parallel, [...path, 'parallel']);
      if (step.forEach) collect(step.forEach.steps, [...path, 'forEach', 'steps']);
      if (step.compensate) collect(step.compensate, [...path, 'compensate']);
    });
  collect(document.steps, ['steps']);

  const checkReference = (reference: Reference, path: DocumentPath, scope: Scope) => {
    const [first, second, third] = reference.fields;
    const name = [reference.root, ...reference.fields].join('.');
    if (reference.root === 'params') {
      if (first !== undefined && !declared.includes(first)) report(path, unknownParameter(first));
    } else if (reference.root === 'run') {
      if (first !== undefined && !runFields.includes(first)) report(path, `unknown field in ${name}; run has ${runFields.join(', ')}`);
    } else if (reference.root === 'steps') {
      if (first === undefined) return;
      const target = allSteps.get(first);
      if (!target) return report(path, `unknown step "${first}" in ${name}`);
      if (!scope.visible.has(first))
        return report(path, `step "${first}" has not finished at this point; only earlier steps can be referenced`);
      if (second !== undefined && !stepFields.includes(second))
        return report(path, `unknown field in ${name}; expected steps.${first}.${stepFields.join(`, steps.${first}.`)}`);
      const outputs = Object.keys(target.outputs ?? {});
      if (second === 'outputs' && third !== undefined && !outputs.includes(third))
        report(
          path,
          `step "${first}" has no output "${third}"; ${outputs.length ? `its outputs: ${outputs.join(', ')}` : 'it declares no outputs'}`,
        );
    } else if (!scope.loopVariables.has(reference.root)) {
      const owner = loopOwners.get(reference.root);
      report(
        path,
        owner
          ? `"${reference.root}" is defined only inside the steps of forEach "${owner}"`
          : `unknown name "${reference.root}"; expected params, steps, run or a forEach variable`,
      );
    }
  };

  const checkExpression = (text: string, path: DocumentPath, scope: Scope, expected?: 'bool' | 'list') => {
    if (text.trim().startsWith('${{')) return report(path, 'expected a bare CEL expression here, without ${{ }}');
    const compiled = compileExpression(text);
    if (!compiled.ok) return report(path, `expression does not compile: ${compiled.message}`);
    checkCompiled(compiled.expression, path, scope, expected);
  };

  const checkCompiled = (expression: CompiledExpression, path: DocumentPath, scope: Scope, expected?: 'bool' | 'list') => {
    const { type } = expression;
    if (expected && type !== 'dyn' && !type.startsWith(expected))
      report(path, `expected an expression that yields ${expected}; this one yields ${type}`);
    for (const reference of expression.references) checkReference(reference, path, scope);
  };

  /** `${{ }}` in strings anywhere inside a value. */
  const checkTemplates = (value: unknown, path: DocumentPath, scope: Scope): void => {
    if (Array.isArray(value)) return value.forEach((item, index) => checkTemplates(item, [...path, index], scope));
    if (value && typeof value === 'object')
      return Object.entries(value).forEach(([key, item]) => checkTemplates(item, [...path, key], scope));
    if (typeof value !== 'string') return;
    const parsed = parseTemplate(value);
    if (!parsed.ok) return report(path, parsed.message);
    for (const expression of templateExpressions(parsed.template)) checkCompiled(expression, path, scope);
  };

  const checkBlock = (step: Step, path: DocumentPath, scope: Scope) => {
    const kind = step.run !== undefined ? 'run' : 'action';
    const name = step.run ?? step.action ?? '';
    const block = options.blocks.get(name);
    if (!block)
      return report(
        [...path, kind],
        `unknown building block "${name}"; registered ${kind === 'run' ? 'workflows' : 'activities'}: ${blockNames(options.blocks, kind).join(', ')}`,
      );
    const expectedKind = kind === 'run' ? 'workflow' : 'activity';
    if (block.kind !== expectedKind)
      return report([...path, kind], `"${name}" is ${block.kind === 'workflow' ? 'a workflow; write run:' : 'an activity; write action:'}`);
    const input = step.with ?? {};
    checkTemplates(input, [...path, 'with'], scope);
    const result = block.input.safeParse(input, { error: documentErrorMap });
    if (result.success) return;
    // A `${{ }}` value's type is known only at run time; issues at or inside one are not findings.
    const literal = findingsFromZod(result.error, [...path, 'with']).filter(
      (finding) => !insideExpression(input, finding.path.slice(path.length + 1)),
    );
    findings.push(...literal);
  };

  const checkApproval = (step: Step, path: DocumentPath, scope: Scope) => {
    const approval = step.approval;
    if (!approval) return;
    const people = new Set<string>();
    let unknown = false;
    approval.approvers.forEach((approver, index) => {
      const at = [...path, 'approval', 'approvers', index];
      if (approver.startsWith('group:')) {
        const members = groups[approver.slice('group:'.length)];
        if (members) members.forEach((member) => people.add(member));
        else {
          unknown = true;
          const configured = Object.keys(groups);
          report(
            at,
            `unknown approver group "${approver.slice(6)}"; ${configured.length ? `configured groups: ${configured.join(', ')}` : 'no approver groups are configured'}`,
          );
        }
      } else if (options.knownApprovers && !options.knownApprovers.includes(approver)) {
        unknown = true;
        report(at, `unknown approver "${approver}"; known approvers: ${options.knownApprovers.join(', ')}`);
      } else people.add(approver);
    });
    if (!unknown && approval.count > people.size)
      report(
        [...path, 'approval', 'count'],
        `${approval.count} approvals are required but only ${people.size} distinct approver${people.size === 1 ? ' is' : 's are'} named`,
      );
    if (approval.show !== undefined) checkTemplates(approval.show, [...path, 'approval', 'show'], scope);
    if (approval.approvedBy !== undefined) checkTemplates(approval.approvedBy, [...path, 'approval', 'approvedBy'], scope);
  };

  const checkStep = (step: Step, path: DocumentPath, scope: Scope) => {
    const kinds = stepKinds.filter((kind) => step[kind] !== undefined);
    if (kinds.length !== 1)
      report(
        kinds.length ? [...path, kinds[1] ?? ''] : path,
        `expected exactly one of ${stepKinds.join(', ')}${kinds.length ? `; this step has ${kinds.join(' and ')}` : ''}`,
        kinds.length > 1,
      );
    const isBlock = step.run !== undefined || step.action !== undefined;
    if (step.with !== undefined && !isBlock) report([...path, 'with'], 'with applies only to run and action steps', true);
    if (step.retry !== undefined && !isBlock) report([...path, 'retry'], 'retry applies only to run and action steps', true);
    else if (step.retry !== undefined && !isRetryProfileName(step.retry))
      report([...path, 'retry'], `unknown retry profile "${step.retry}"; expected one of ${retryProfileNames.join(', ')}`);
    if (step.when !== undefined) checkExpression(step.when, [...path, 'when'], scope, 'bool');
    if (isBlock && kinds.length === 1) checkBlock(step, path, scope);
    checkApproval(step, path, scope);
    step.parallel?.forEach((branch, index) => checkStep(branch, [...path, 'parallel', index], scope));
    if (step.forEach) {
      const { as, items, steps } = step.forEach;
      checkExpression(items, [...path, 'forEach', 'items'], scope, 'list');
      if (reservedNames.has(as) || scope.loopVariables.has(as))
        report([...path, 'forEach', 'as'], `"${as}" is already a name in CEL here; choose another`);
      checkList(steps, [...path, 'forEach', 'steps'], { ...scope, loopVariables: new Map(scope.loopVariables).set(as, step.id) });
    }
    // Compensation and outputs run after the step, so they may read it and its parallel branches.
    const after = { ...scope, visible: withFinished(scope.visible, step) };
    if (step.compensate) checkList(step.compensate, [...path, 'compensate'], after);
    for (const [name, expression] of Object.entries(step.outputs ?? {})) checkExpression(expression, [...path, 'outputs', name], after);
  };

  const checkList = (list: readonly Step[], base: DocumentPath, scope: Scope) => {
    let visible = scope.visible;
    list.forEach((step, index) => {
      checkStep(step, [...base, index], { ...scope, visible });
      visible = withFinished(visible, step);
    });
  };

  for (const [name, parameter] of Object.entries(document.parameters)) {
    const at = ['parameters', name];
    parameter.enum?.forEach((option, index) => {
      const problem = parameterValueProblem({ ...parameter, enum: undefined }, option);
      if (problem) report([...at, 'enum', index], problem);
    });
    if (parameter.default !== undefined) {
      const problem = parameterValueProblem(parameter, parameter.default);
      if (problem) report([...at, 'default'], problem);
    }
  }
  if (document.schedule) {
    const given = document.schedule.parameters;
    for (const [name, value] of Object.entries(given)) {
      const parameter = document.parameters[name];
      const problem = parameter ? parameterValueProblem(parameter, value) : unknownParameter(name);
      if (problem) report(['schedule', 'parameters', name], problem, !parameter);
    }
    for (const [name, parameter] of Object.entries(document.parameters))
      if (parameter.required && parameter.default === undefined && !(name in given))
        report(['schedule', 'parameters'], `required parameter "${name}" has no default, so the schedule must give it`);
  }
  checkList(document.steps, ['steps'], { visible: new Map(), loopVariables: new Map() });
  return findings;
}

/** The step and its parallel branches, which have all finished once the step has. */
function withFinished(visible: ReadonlyMap<string, Step>, step: Step): ReadonlyMap<string, Step> {
  const next = new Map(visible).set(step.id, step);
  for (const branch of step.parallel ?? []) for (const [id, finished] of withFinished(new Map(), branch)) next.set(id, finished);
  return next;
}

function blockNames(blocks: BlockRegistry, kind: 'run' | 'action'): string[] {
  return [...blocks.values()].filter((block) => block.kind === (kind === 'run' ? 'workflow' : 'activity')).map((block) => block.name);
}

/** Whether `path` inside `value` is, or lies under, a string that is exactly one `${{ }}`. */
function insideExpression(value: unknown, path: DocumentPath): boolean {
  let current = value;
  for (const part of [...path, undefined]) {
    if (typeof current === 'string') {
      const parsed = parseTemplate(current);
      return parsed.ok && parsed.template.kind === 'whole';
    }
    if (part === undefined || current === null || typeof current !== 'object') return false;
    current = (current as Record<string | number, unknown>)[part];
  }
  return false;
}

/** What is wrong with a value for a parameter, or undefined when it fits its type and enum. */
export function parameterValueProblem(parameter: Pick<Parameter, 'type' | 'enum'>, value: unknown): string | undefined {
  const { type } = parameter;
  if (type === 'number' && (typeof value !== 'number' || !Number.isFinite(value))) return 'expected a number';
  if (type === 'boolean' && typeof value !== 'boolean') return 'expected true or false';
  if (type === 'duration' && (typeof value !== 'string' || !durationPattern.test(value))) return `expected ${durationExpectation}`;
  if (!['number', 'boolean', 'duration'].includes(type) && typeof value !== 'string')
    return `expected a string (${type === 'string' ? 'text' : `a ${type} name`})`;
  if (parameter.enum && !parameter.enum.includes(value as string | number))
    return `expected one of ${parameter.enum.map((option) => JSON.stringify(option)).join(', ')}`;
  return undefined;
}

export type ResolvedParameters = { ok: true; values: Record<string, string | number | boolean> } | { ok: false; problems: string[] };

/**
 * Parameter values for a run: given values (strings from `--param k=v` are converted to the
 * declared type), then defaults; unknown names, missing required ones and bad values are problems.
 */
export function resolveParameters(parameters: RunbookDocument['parameters'], given: Readonly<Record<string, unknown>>): ResolvedParameters {
  const problems: string[] = [];
  const values: Record<string, string | number | boolean> = {};
  for (const name of Object.keys(given)) if (!Object.hasOwn(parameters, name)) problems.push(`unknown parameter "${name}"`);
  for (const [name, parameter] of Object.entries(parameters)) {
    const raw = Object.hasOwn(given, name) ? given[name] : parameter.default;
    if (raw === undefined) {
      if (parameter.required) problems.push(`parameter "${name}" is required`);
      continue;
    }
    const value = typeof raw === 'string' ? fromText(parameter, raw) : raw;
    const problem = parameterValueProblem(parameter, value);
    if (problem) problems.push(`parameter "${name}": ${problem}`);
    else values[name] = value as string | number | boolean;
  }
  return problems.length ? { ok: false, problems } : { ok: true, values };
}

function fromText(parameter: Parameter, text: string): unknown {
  if (parameter.type === 'number' && text.trim() !== '' && Number.isFinite(Number(text))) return Number(text);
  if (parameter.type === 'boolean' && (text === 'true' || text === 'false')) return text === 'true';
  return text;
}
