// Runbook documents at the edge: where they are (runbooks.dir), reading one by name or path, its
// content hash, and validation with the real building blocks and the configuration (approver groups,
// the clusters and apps that parameters and literal inputs name). A bad document is refused here,
// with every problem as file:line:col: path: message, before anything starts.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { LineCounter, parse as parseYaml, parseDocument, type Node } from 'yaml';
import { formatPath, formatProblems, parseRunbook, type Problem } from '../model/runbook/parse.js';
import { runbookBlocks } from '../model/runbook/registry.js';
import type { RunbookDocument, Step } from '../model/runbook/schema.js';
import { resolveParameters } from '../model/runbook/validate.js';
import type { ParameterValue, RunbookInput } from '../model/runbook/run.js';
import { appByName, clusterByName, cronProblem, UnknownNameError, type LifeboatConfig } from '../worker/config.js';
import { CliError, exitCodes } from './output.js';
import { approvalRefusal, resolveApprovers } from '../model/approvals.js';

/** A document as read and validated: what a run records and a schedule carries. */
export interface LoadedRunbook {
  /** The path as shown in messages and recorded as the run's `source`. */
  file: string;
  document: RunbookDocument;
  /** sha256 (hex) of the file's text. */
  contentHash: string;
}

export type CheckedRunbook = ({ ok: true } & LoadedRunbook) | { ok: false; file: string; problems: Problem[] };

/** The folder of runbook documents: runbooks.dir as loaded (absolute, checked to exist when named). */
export const runbooksDir = (config: LifeboatConfig) => resolve(config.runbooks.dir ?? 'runbooks');

/** A path for messages: relative to the working directory when under it, else absolute. */
export function displayPath(file: string, cwd = process.cwd()): string {
  const absolute = resolve(cwd, file);
  const rel = relative(cwd, absolute);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : absolute;
}

/** Every `*.yaml` in the runbooks folder, sorted; none when the default folder does not exist. */
export function documentFiles(config: LifeboatConfig): string[] {
  const dir = runbooksDir(config);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .map((name) => displayPath(join(dir, name)));
}

export const contentHash = (text: string) => createHash('sha256').update(text).digest('hex');

/** Parses and validates one document with the registered blocks and the configuration. */
export function checkRunbook(config: LifeboatConfig, file: string): CheckedRunbook {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory' : (err as Error).message;
    return { ok: false, file, problems: [{ file, line: 1, col: 1, path: '', message: `cannot read the document: ${why}` }] };
  }
  const parsed = parseRunbook(file, text, { blocks: runbookBlocks, approverGroups: config.runbooks.approverGroups });
  if (!parsed.ok) return { ok: false, file, problems: parsed.problems };
  const problems = configurationProblems(config, file, text, parsed.document);
  if (problems.length) return { ok: false, file, problems };
  return { ok: true, file, document: parsed.document, contentHash: contentHash(text) };
}

/** The document, or a CliError (exit 2) listing every problem: nothing is started. */
export function loadRunbook(config: LifeboatConfig, file: string): LoadedRunbook {
  const checked = checkRunbook(config, file);
  if (!checked.ok) throw invalidRunbooks([checked]);
  return checked;
}

/** Exit 2 with every problem of every document, one `file:line:col: path: message` a line; `consequence` says what did not happen. */
export function invalidRunbooks(
  invalid: ReadonlyArray<{ file: string; problems: Problem[] }>,
  consequence = 'nothing was started',
): CliError {
  const files = invalid.map((c) => c.file).join(', ');
  return new CliError(
    `invalid runbook ${files}; ${consequence}:\n${invalid.flatMap((c) => formatProblems(c.problems)).join('\n')}`,
    exitCodes.badInput,
  );
}

/** Every document in the runbooks folder, all valid, or a CliError (exit 2) listing every problem. */
export function loadAllRunbooks(config: LifeboatConfig, consequence?: string): LoadedRunbook[] {
  const checked = documentFiles(config).map((file) => checkRunbook(config, file));
  const invalid = checked.filter((c) => !c.ok);
  if (invalid.length) throw invalidRunbooks(invalid, consequence);
  const loaded = checked.filter((c) => c.ok);
  const seen = new Map<string, string>();
  const duplicates: { file: string; problems: Problem[] }[] = [];
  for (const r of loaded) {
    const first = seen.get(r.document.metadata.name);
    if (first)
      duplicates.push({
        file: r.file,
        problems: [
          {
            file: r.file,
            line: 1,
            col: 1,
            path: 'metadata.name',
            message: `runbook "${r.document.metadata.name}" is also defined in ${first}; names are unique`,
          },
        ],
      });
    else seen.set(r.document.metadata.name, r.file);
  }
  if (duplicates.length) throw invalidRunbooks(duplicates, consequence);
  return loaded;
}

/**
 * A runbook by path (anything with a `/` or ending in `.yaml`/`.yml`) or by name: `<dir>/<name>.yaml`,
 * else the document in the folder whose `metadata.name` it is.
 */
export function findRunbook(config: LifeboatConfig, nameOrPath: string): LoadedRunbook {
  if (nameOrPath.includes('/') || /\.ya?ml$/.test(nameOrPath)) return loadRunbook(config, nameOrPath);
  const dir = runbooksDir(config);
  const files = documentFiles(config);
  const byFile = files.find((file) => resolve(file) === join(dir, `${nameOrPath}.yaml`));
  const file = byFile ?? files.find((f) => declaredName(f) === nameOrPath);
  if (!file) {
    const known = files
      .map((f) => declaredName(f))
      .filter((n): n is string => n !== undefined)
      .sort();
    throw new CliError(
      `unknown runbook '${nameOrPath}'; runbooks in ${displayPath(dir)}: ${known.join(', ') || 'none'}`,
      exitCodes.badInput,
    );
  }
  return loadRunbook(config, file);
}

/** `metadata.name` of a document read loosely (a broken sibling must not hide the one asked for). */
function declaredName(file: string): string | undefined {
  try {
    const name = (parseYaml(readFileSync(file, 'utf8')) as { metadata?: { name?: unknown } } | null)?.metadata?.name;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

type ConfigKind = 'cluster' | 'app';

/** `unknown cluster 'x'; configured clusters: a, b`: the lookup's own wording, without the argument. */
function unknownName(config: LifeboatConfig, kind: ConfigKind, value: string): string | undefined {
  try {
    if (kind === 'cluster') clusterByName(config, value);
    else appByName(config, value);
    return undefined;
  } catch (err) {
    if (!(err instanceof UnknownNameError)) throw err;
    return `unknown ${err.kind} '${err.value}'; configured ${err.kind}s: ${err.configured.join(', ') || 'none'}`;
  }
}

/** Input keys of the building blocks that name a configured cluster or app (or a list of them). */
const namedInputs: Record<string, ConfigKind> = {
  cluster: 'cluster',
  from: 'cluster',
  to: 'cluster',
  clusters: 'cluster',
  app: 'app',
  apps: 'app',
};

/**
 * What only the configuration can tell: parameters of type cluster or app (enum, default, the
 * schedule's values) and literal inputs (`cluster: primary`) name configured ones; a schedule's cron is
 * one Temporal runs as it reads.
 */
function configurationProblems(config: LifeboatConfig, file: string, text: string, document: RunbookDocument): Problem[] {
  const lineCounter = new LineCounter();
  const yaml = parseDocument(text, { lineCounter });
  const problems: Problem[] = [];
  const report = (path: Array<string | number>, message: string) => {
    const node = yaml.getIn(path, true) as Node | undefined;
    const { line, col } = lineCounter.linePos(node?.range?.[0] ?? 0);
    problems.push({ file, line, col, path: formatPath(path), message });
  };
  const check = (kind: ConfigKind, value: unknown, path: Array<string | number>) => {
    // An empty value is no name (an optional second cluster left out); a `${{ }}` one is known at run time.
    if (typeof value !== 'string' || value === '' || value.includes('${{')) return;
    const problem = unknownName(config, kind, value);
    if (problem) report(path, problem);
  };
  for (const [name, parameter] of Object.entries(document.parameters)) {
    if (parameter.type !== 'cluster' && parameter.type !== 'app') continue;
    const kind = parameter.type;
    parameter.enum?.forEach((option, i) => check(kind, option, ['parameters', name, 'enum', i]));
    check(kind, parameter.default, ['parameters', name, 'default']);
    const scheduled = document.schedule?.parameters[name];
    if (scheduled !== undefined) check(kind, scheduled, ['schedule', 'parameters', name]);
  }
  const walk = (steps: readonly Step[], base: Array<string | number>) =>
    steps.forEach((step, index) => {
      const at = [...base, index];
      for (const [key, value] of Object.entries(step.with ?? {})) {
        const kind = namedInputs[key];
        if (!kind) continue;
        if (Array.isArray(value)) value.forEach((item, i) => check(kind, item, [...at, 'with', key, i]));
        else check(kind, value, [...at, 'with', key]);
      }
      if (step.parallel) walk(step.parallel, [...at, 'parallel']);
      if (step.forEach) walk(step.forEach.steps, [...at, 'forEach', 'steps']);
      if (step.compensate) walk(step.compensate, [...at, 'compensate']);
    });
  walk(document.steps, ['steps']);
  if (document.schedule) {
    const problem = cronProblem(document.schedule.cron);
    if (problem) report(['schedule', 'cron'], `'${document.schedule.cron}': ${problem}`);
  }
  return problems.sort((a, b) => a.line - b.line || a.col - b.col);
}

/** `--param k=v` values converted to the declared types; unknown, missing and bad ones exit 2. */
export function runParameters(
  config: LifeboatConfig,
  loaded: LoadedRunbook,
  given: Readonly<Record<string, string | ParameterValue>>,
): Record<string, ParameterValue> {
  const resolved = resolveParameters(loaded.document.parameters, given);
  if (!resolved.ok) {
    throw new CliError(
      `runbook ${loaded.document.metadata.name} (${loaded.file}): bad parameters; nothing was started:\n${resolved.problems.map((p) => `  - ${p}`).join('\n')}`,
      exitCodes.badInput,
    );
  }
  for (const [name, parameter] of Object.entries(loaded.document.parameters)) {
    const value = resolved.values[name];
    if (typeof value !== 'string' || value === '') continue;
    if (parameter.type === 'cluster') clusterByName(config, value, `--param ${name}`);
    if (parameter.type === 'app') appByName(config, value, `--param ${name}`);
  }
  return resolved.values;
}

/** What the interpreter is started with. */
export function runbookInput(
  config: LifeboatConfig,
  loaded: LoadedRunbook,
  parameters: Record<string, ParameterValue>,
  startedBy: string,
  plan = false,
): RunbookInput {
  return {
    document: loaded.document,
    contentHash: loaded.contentHash,
    source: loaded.file,
    parameters,
    startedBy,
    approverGroups: config.runbooks.approverGroups,
    ...(plan ? { plan: true } : {}),
  };
}

/**
 * Refuses (exit 2, nothing started) an `--auto-approve --approver` the run would refuse: the approval
 * step that takes it names who may approve and whether the requester may not.
 */
export function refuseUpFrontApproval(config: LifeboatConfig, document: RunbookDocument, approver: unknown, requester: string): void {
  if (typeof approver !== 'string') return;
  for (const step of document.steps) {
    // The steps an approver named up front stands in for: `approvedBy`, or skipped by a `when` on it
    // (node-replacement's, which the node health watch also uses within its budget).
    if (!step.approval || (step.approval.approvedBy === undefined && !/\bparams\.approver\b/.test(step.when ?? ''))) continue;
    const refused = approvalRefusal(
      {
        approvers: resolveApprovers(step.approval.approvers, config.runbooks.approverGroups),
        forceApprovers: [],
        fourEyes: step.approval.fourEyes,
      },
      { approver, requester },
    );
    if (refused) throw new CliError(`--approver '${approver}' refused: ${refused}`, exitCodes.badInput);
  }
}
