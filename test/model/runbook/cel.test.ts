import { describe, expect, it } from '@jest/globals';
import { compileExpression, evaluate, ExpressionError, interpolate, parseTemplate } from '../../../model/runbook/cel.js';

const compiled = (text: string) => {
  const result = compileExpression(text);
  if (!result.ok) throw new Error(result.message);
  return result.expression;
};

const context = {
  params: { cluster: 'prod-east', replicas: 3, ratio: 0.5, dryRun: false, apps: ['web', 'api'] },
  steps: { health: { status: 'succeeded', outputs: { healthy: true }, result: { nodes: 4, zones: ['a', 'b'] } } },
  run: { id: 'runbook/drain-node/1', startedBy: 'alice' },
  item: 'web',
};

describe('compileExpression', () => {
  it('infers the type and lists the names an expression reads', () => {
    const expression = compiled('params.replicas > 1 && steps["health"].outputs.healthy && run.startedBy != ""');
    expect(expression.type).toBe('bool');
    expect(expression.references).toEqual([
      { root: 'params', fields: ['replicas'] },
      { root: 'steps', fields: ['health', 'outputs', 'healthy'] },
      { root: 'run', fields: ['startedBy'] },
    ]);
  });

  it('leaves out names bound by macros and cel.bind, but not what they range over', () => {
    expect(compiled('params.apps.all(app, app != item)').references).toEqual([
      { root: 'params', fields: ['apps'] },
      { root: 'item', fields: [] },
    ]);
    expect(compiled('cel.bind(n, steps.health.result.nodes, n * 2)').references).toEqual([
      { root: 'steps', fields: ['health', 'result', 'nodes'] },
    ]);
  });

  it('stops a reference at a computed index', () => {
    expect(compiled('steps[item].status').references).toEqual([
      { root: 'steps', fields: [] },
      { root: 'item', fields: [] },
    ]);
  });

  it('refuses what does not parse or type-check, saying why', () => {
    expect(compileExpression('params.x ==')).toEqual({ ok: false, message: 'Unexpected token: EOF' });
    expect(compileExpression('"a" + 1')).toEqual({ ok: false, message: 'no such overload: string + int' });
  });
});

describe('evaluate', () => {
  it('gives JSON-safe values: CEL ints as numbers', () => {
    expect(evaluate(compiled('params.replicas * 2'), context)).toBe(6);
    expect(evaluate(compiled('params.ratio * 4.0'), context)).toBe(2);
    expect(evaluate(compiled('steps.health.result.zones.map(z, z + "1")'), context)).toEqual(['a1', 'b1']);
    expect(evaluate(compiled('{"n": steps.health.result.nodes}'), context)).toEqual({ n: 4 });
    expect(evaluate(compiled('timestamp("2026-01-02T03:04:05Z")'), context)).toBe('2026-01-02T03:04:05.000Z');
  });

  it('evaluates conditions over parameters, step status and the loop variable', () => {
    expect(evaluate(compiled('!params.dryRun && steps.health.status == "succeeded" && item in params.apps'), context)).toBe(true);
    expect(evaluate(compiled('has(steps.health.outputs.missing)'), context)).toBe(false);
  });

  it('throws an ExpressionError naming the expression when a key is missing', () => {
    const attempt = () => evaluate(compiled('params.missing'), context);
    expect(attempt).toThrow(ExpressionError);
    expect(attempt).toThrow('params.missing: No such key: missing');
  });
});

describe('templates and interpolate', () => {
  it('tells literals, whole expressions and text apart', () => {
    expect(parseTemplate('plain text')).toEqual({ ok: true, template: { kind: 'literal' } });
    const whole = parseTemplate('${{ params.replicas }}');
    expect(whole.ok && whole.template.kind).toBe('whole');
    const text = parseTemplate('scale ${{ item }} to ${{ params.replicas }}');
    expect(
      text.ok && text.template.kind === 'text' && text.template.parts.map((part) => (typeof part === 'string' ? part : part.text)),
    ).toEqual(['scale ', 'item', ' to ', 'params.replicas']);
  });

  it('reports a template that does not compile or is not closed', () => {
    expect(parseTemplate('x ${{ 1 + }}')).toEqual({ ok: false, message: 'expression "1 +" does not compile: Unexpected token: EOF' });
    expect(parseTemplate('x ${{ item')).toEqual({ ok: false, message: 'expected "}}" to close "${{" in "x ${{ item"' });
  });

  it('keeps the type of a whole expression and makes text of embedded ones, deeply', () => {
    const value = {
      replicas: '${{ params.replicas + 1 }}',
      zones: '${{ steps.health.result.zones }}',
      message: 'run ${{ run.id }} by ${{ run.startedBy }}: ${{ steps.health.result.nodes }} nodes, zones ${{ steps.health.result.zones }}',
      labels: ['${{ item }}', 'fixed', 7, true, null],
      nested: { dryRun: '${{ params.dryRun }}' },
    };
    expect(interpolate(value, context)).toEqual({
      replicas: 4,
      zones: ['a', 'b'],
      message: 'run runbook/drain-node/1 by alice: 4 nodes, zones ["a","b"]',
      labels: ['web', 'fixed', 7, true, null],
      nested: { dryRun: false },
    });
  });

  it('throws an ExpressionError for a template that does not compile', () => {
    expect(() => interpolate({ a: '${{ ) }}' }, context)).toThrow(ExpressionError);
  });
});
