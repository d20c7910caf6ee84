import { Environment, type ASTNode } from '@marcbachmann/cel-js';

/**
 * CEL for runbook documents: `when`, `outputs`, `forEach.items`, and `${{ <CEL> }}` inside `with`
 * and `approval.show`. Pure (no I/O, no eval), so the interpreter runs it in the workflow sandbox.
 *
 * Context at run time: `params.<name>`, `steps.<id>.{status,outputs,result}`, `run.{id,runId,startedBy}`
 * and, inside a forEach, its variable (`item` unless `as:` names another). Names are resolved
 * dynamically here; validate.ts checks each reference against the document.
 */
const environment = new Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false });

/** A name read by an expression: `params.cluster` is `{ root: 'params', fields: ['cluster'] }`. */
export interface Reference {
  readonly root: string;
  /** Fields selected with `.x` or `["x"]`, up to the first computed index. */
  readonly fields: readonly string[];
}

export interface CompiledExpression {
  readonly text: string;
  /** The CEL type the checker infers (`bool`, `int`, `string`, `dyn`, ...). */
  readonly type: string;
  /** Free variables, outermost first; names bound by macros (`l.all(x, ...)`) are left out. */
  readonly references: readonly Reference[];
  readonly run: (context: Record<string, unknown>) => unknown;
}

export type CompileResult = { ok: true; expression: CompiledExpression } | { ok: false; message: string };

/** An expression that failed at run time (a missing key, a type mismatch on dyn values). */
export class ExpressionError extends Error {
  constructor(
    readonly expression: string,
    readonly reason: string,
  ) {
    super(`${expression}: ${reason}`);
    this.name = 'ExpressionError';
  }
}

export function compileExpression(text: string): CompileResult {
  let parsed: ReturnType<Environment['parse']>;
  try {
    parsed = environment.parse(text);
  } catch (error) {
    return { ok: false, message: summary(error) };
  }
  const checked = parsed.check();
  if (!checked.valid) return { ok: false, message: summary(checked.error) };
  const references: Reference[] = [];
  collectReferences(parsed.ast, new Set(), references);
  return { ok: true, expression: { text, type: checked.type ?? 'dyn', references, run: parsed } };
}

/** Evaluates to a JSON-safe value: CEL ints come back as numbers, timestamps as ISO strings. */
export function evaluate(expression: CompiledExpression, context: Record<string, unknown>): unknown {
  try {
    return fromCel(expression.run(toCel(context) as Record<string, unknown>));
  } catch (error) {
    throw new ExpressionError(expression.text, summary(error));
  }
}

function summary(error: unknown): string {
  if (error && typeof error === 'object' && 'summary' in error && typeof error.summary === 'string') return error.summary;
  return error instanceof Error ? error.message : String(error);
}

/** Macros whose first argument names a variable bound in the others. */
const bindingMacros = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

function collectReferences(node: ASTNode, bound: ReadonlySet<string>, out: Reference[]): void {
  const path = selectionPath(node);
  if (path && !bound.has(path.root)) {
    out.push(path);
    return;
  }
  if (node.op === 'rcall') {
    const [name, target, args] = node.args;
    const variable = args[0]?.op === 'id' ? args[0].args : undefined;
    const isBind = name === 'bind' && target.op === 'id' && target.args === 'cel';
    if (variable !== undefined && (isBind || bindingMacros.has(name))) {
      if (!isBind) collectReferences(target, bound, out);
      const inner = new Set(bound).add(variable);
      args.slice(1).forEach((arg, index) => collectReferences(arg, isBind && index === 0 ? bound : inner, out));
      return;
    }
  }
  for (const child of children(node)) collectReferences(child, bound, out);
}

/** `a.b["c"].d` as root `a` and fields `b, c, d`; undefined for anything that is not such a chain. */
function selectionPath(node: ASTNode): Reference | undefined {
  if (node.op === 'id') return { root: node.args, fields: [] };
  if (node.op === '.' || node.op === '.?') {
    const inner = selectionPath(node.args[0]);
    return inner && { root: inner.root, fields: [...inner.fields, node.args[1]] };
  }
  if ((node.op === '[]' || node.op === '[?]') && node.args[1].op === 'value' && typeof node.args[1].args === 'string') {
    const inner = selectionPath(node.args[0]);
    return inner && { root: inner.root, fields: [...inner.fields, node.args[1].args] };
  }
  return undefined;
}

function children(node: ASTNode): ASTNode[] {
  const isNode = (value: unknown): value is ASTNode => typeof value === 'object' && value !== null && 'op' in value;
  const flat = (value: unknown): ASTNode[] => (Array.isArray(value) ? value.flatMap(flat) : isNode(value) ? [value] : []);
  return node.op === 'value' || node.op === 'id' ? [] : flat(node.args);
}

/** YAML and JSON numbers that are whole become CEL ints, so `params.replicas + 1` type-checks. */
function toCel(value: unknown): unknown {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (Array.isArray(value)) return value.map(toCel);
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, toCel(item)]));
  return value;
}

function fromCel(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Map) return Object.fromEntries([...value].map(([key, item]) => [String(key), fromCel(item)]));
  if (Array.isArray(value)) return value.map(fromCel);
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, fromCel(item)]));
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * A `with`/`show` string: literal text and `${{ <CEL> }}` parts. A string that is exactly one
 * `${{ }}` (`whole`) yields the expression's typed value; otherwise the parts are joined as text.
 */
export type Template =
  | { kind: 'literal' }
  | { kind: 'whole'; expression: CompiledExpression }
  | { kind: 'text'; parts: ReadonlyArray<string | CompiledExpression> };

export type TemplateResult = { ok: true; template: Template } | { ok: false; message: string };

const templateOpen = '${{';
const templateClose = '}}';

export function parseTemplate(text: string): TemplateResult {
  if (!text.includes(templateOpen)) return { ok: true, template: { kind: 'literal' } };
  const parts: Array<string | CompiledExpression> = [];
  let rest = text;
  while (rest.length > 0) {
    const open = rest.indexOf(templateOpen);
    if (open < 0) break;
    const close = rest.indexOf(templateClose, open + templateOpen.length);
    if (close < 0) return { ok: false, message: `expected "}}" to close "\${{" in ${JSON.stringify(text)}` };
    const source = rest.slice(open + templateOpen.length, close).trim();
    const compiled = compileExpression(source);
    if (!compiled.ok) return { ok: false, message: `expression ${JSON.stringify(source)} does not compile: ${compiled.message}` };
    if (open > 0) parts.push(rest.slice(0, open));
    parts.push(compiled.expression);
    rest = rest.slice(close + templateClose.length);
  }
  if (rest.length > 0) parts.push(rest);
  const [only] = parts;
  if (parts.length === 1 && typeof only === 'object') return { ok: true, template: { kind: 'whole', expression: only } };
  return { ok: true, template: { kind: 'text', parts } };
}

/** Every expression of a template, for reference checks. */
export function templateExpressions(template: Template): CompiledExpression[] {
  if (template.kind === 'literal') return [];
  if (template.kind === 'whole') return [template.expression];
  return template.parts.filter((part): part is CompiledExpression => typeof part !== 'string');
}

/**
 * Resolves `${{ }}` in a value, deeply through objects and arrays. Strings without `${{` and all
 * other values are literals. Throws ExpressionError for a template that does not compile or fails.
 */
export function interpolate(value: unknown, context: Record<string, unknown>): unknown {
  if (Array.isArray(value)) return value.map((item) => interpolate(item, context));
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolate(item, context)]));
  if (typeof value !== 'string') return value;
  const parsed = parseTemplate(value);
  if (!parsed.ok) throw new ExpressionError(value, parsed.message);
  const { template } = parsed;
  if (template.kind === 'literal') return value;
  if (template.kind === 'whole') return evaluate(template.expression, context);
  return template.parts.map((part) => (typeof part === 'string' ? part : asText(evaluate(part, context)))).join('');
}

function asText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
