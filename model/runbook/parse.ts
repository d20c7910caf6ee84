import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { runbookSchema, type RunbookDocument } from './schema.js';
import { documentErrorMap, findingsFromZod, validateRunbook, type DocumentPath, type Finding, type ValidationOptions } from './validate.js';

/** One thing wrong with a document, where an editor can jump to it. */
export interface Problem {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly col: number;
  /** Path in the document, e.g. `steps[2].with.cluster`; empty for the document itself. */
  readonly path: string;
  /** What was expected. */
  readonly message: string;
}

export type ParseRunbookResult = { ok: true; document: RunbookDocument } | { ok: false; problems: Problem[] };

/**
 * Parses and validates a runbook document. Pure: the caller reads the file and computes the
 * content hash (sha256 of `text`) that the interpreter records. YAML syntax errors are reported
 * alone (the structure is not trustworthy then); otherwise every schema problem, or when the
 * shape is right, every meaning problem (blocks, references, approvers), is reported at once.
 */
export function parseRunbook(fileName: string, text: string, options: ValidationOptions): ParseRunbookResult {
  const lineCounter = new LineCounter();
  const yaml = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problemAt = (offset: number, path: DocumentPath, message: string): Problem => {
    const { line, col } = lineCounter.linePos(offset);
    return { file: fileName, line, col, path: formatPath(path), message };
  };
  if (yaml.errors.length > 0) {
    const problems = yaml.errors.map((error) => {
      const path = pathAt(yaml.contents, error.pos[0]);
      const message =
        error.code === 'DUPLICATE_KEY'
          ? `duplicate key "${String(path.at(-1))}"; a key may appear once in a mapping`
          : firstLine(error.message);
      return problemAt(error.pos[0], path, message);
    });
    return { ok: false, problems };
  }
  if (yaml.contents === null)
    return { ok: false, problems: [problemAt(0, [], 'the document is empty; expected apiVersion, kind, metadata and steps')] };
  const parsed = runbookSchema.safeParse(yaml.toJS(), { error: documentErrorMap });
  const findings = parsed.success ? validateRunbook(parsed.data, options) : findingsFromZod(parsed.error);
  if (parsed.success && findings.length === 0) return { ok: true, document: parsed.data };
  const problems = findings.map((finding) => problemAt(offsetOf(yaml.contents, finding), finding.path, finding.message));
  return { ok: false, problems: problems.sort((a, b) => a.line - b.line || a.col - b.col) };
}

/** `file:line:col: path: message`, one line per problem. */
export function formatProblems(problems: readonly Problem[]): string[] {
  return problems.map(({ file, line, col, path, message }) => `${file}:${line}:${col}: ${path ? `${path}: ` : ''}${message}`);
}

export function formatPath(path: DocumentPath): string {
  return path
    .map((part, index) =>
      typeof part === 'number'
        ? `[${part}]`
        : /^[A-Za-z_$][\w$-]*$/.test(part)
          ? `${index ? '.' : ''}${part}`
          : `[${JSON.stringify(part)}]`,
    )
    .join('');
}

/** Start of the YAML node at `path`, or of the nearest ancestor that the source has (defaults do not). */
function offsetOf(root: Node | null, finding: Finding): number {
  let node: Node | null = root;
  let offset = root?.range?.[0] ?? 0;
  for (const [index, part] of finding.path.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(part));
      if (!pair) break;
      const key = pair.key as Node;
      const value = pair.value as Node | null;
      const last = index === finding.path.length - 1;
      if ((last && finding.atKey) || !value?.range) {
        offset = key.range?.[0] ?? offset;
        break;
      }
      node = value;
    } else if (isSeq(node) && typeof part === 'number' && node.items[part]) {
      node = node.items[part] as Node;
    } else break;
    offset = node.range?.[0] ?? offset;
    if (isAlias(node)) break;
  }
  return offset;
}

/** Path of the innermost node that contains `offset`, for YAML errors (which come without one). */
function pathAt(root: Node | null, offset: number): DocumentPath {
  const path: Array<string | number> = [];
  let node: unknown = root;
  for (;;) {
    const contains = (candidate: unknown) => {
      const range = (candidate as Node | null)?.range;
      return range != null && range[0] <= offset && offset < range[2];
    };
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && (contains(item.key) || contains(item.value)));
      if (!pair || !isScalar(pair.key)) return path;
      path.push(String(pair.key.value));
      if (contains(pair.key)) return path;
      node = pair.value;
    } else if (isSeq(node)) {
      const index = node.items.findIndex(contains);
      if (index < 0) return path;
      path.push(index);
      node = node.items[index];
    } else return path;
  }
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
