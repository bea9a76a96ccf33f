import { Environment } from '@marcbachmann/cel-js';
import type { FieldIssue } from '../errors.js';

/**
 * The expression language of step inputs and `when` conditions: CEL (Common Expression
 * Language, the language of Kubernetes admission policies and Google IAM conditions),
 * evaluated by `@marcbachmann/cel-js`. CEL is not Turing complete: no loops, no function
 * definitions, no access to anything but the two variables below, so an expression cannot
 * run code or run forever. Its size is bounded when it is parsed (characters, AST nodes,
 * nesting) and list macros may not nest, so one evaluation is linear in the data it reads.
 *
 * Variables: `input` (the run's input) and `steps` (`steps.<id>.output`, `steps.<id>.status`
 * of the step's ancestors only). See docs/executor.md, "Data between steps".
 */

/** Bounds on one expression (parse time) and on what resolving a step's input may produce. */
export const expressionLimits = Object.freeze({
  /** Characters of one expression (between `{{` and `}}`, or a `when`). */
  maxChars: 1000,
  maxAstNodes: 300,
  maxDepth: 24,
  /** Templates in one step's input. */
  maxTemplates: 100,
  /** JSON bytes of one resolved template value. */
  maxValueBytes: 256 * 1024,
});

const macros: ReadonlySet<string> = new Set(['map', 'filter', 'all', 'exists', 'exists_one']);

const environment = new Environment({
  homogeneousAggregateLiterals: false,
  limits: {
    maxAstNodes: expressionLimits.maxAstNodes,
    maxDepth: expressionLimits.maxDepth,
    maxListElements: 100,
    maxMapEntries: 100,
    maxCallArguments: 8,
  },
})
  .registerVariable('input', 'map')
  .registerVariable('steps', 'map');

type Compiled = ReturnType<typeof environment.parse>;
interface AstNode {
  op: string;
  args: unknown;
}

/** The first line of a CEL error (the rest is a caret drawing of the source). */
const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]!;

const isNode = (v: unknown): v is AstNode =>
  v !== null && typeof v === 'object' && typeof (v as AstNode).op === 'string' && 'args' in (v as object);

/**
 * The step ids an expression reads (`steps.<id>` or `steps["<id>"]`), or an error text when
 * it uses `steps` in another way (a computed id cannot be checked) or nests list macros.
 */
function stepReferences(ast: AstNode): { ids: string[] } | { error: string } {
  const ids: string[] = [];
  let error: string | null = null;
  const walk = (node: AstNode, inMacro: boolean, parent: AstNode | null): void => {
    if (error) return;
    if (node.op === 'id' && node.args === 'steps') {
      const args = parent?.args as unknown[] | undefined;
      const isObject = args?.[0] === node;
      if (parent?.op === '.' && isObject && typeof args?.[1] === 'string') ids.push(args[1]);
      else if (parent?.op === '[]' && isObject && isNode(args?.[1]) && args[1].op === 'value') {
        ids.push(String(args[1].args));
      } else error = 'must name the step it reads: steps.<id>.output… or steps["<id>"].output…';
      return;
    }
    let nested = inMacro;
    if (node.op === 'rcall' && Array.isArray(node.args) && macros.has(String(node.args[0]))) {
      if (inMacro) {
        error = `nests the list macro ${String(node.args[0])} inside another one, which is not allowed`;
        return;
      }
      nested = true;
    }
    const visit = (v: unknown): void => {
      if (isNode(v)) walk(v, nested, node);
      else if (Array.isArray(v)) for (const item of v) visit(item);
    };
    visit(node.args);
  };
  walk(ast, false, null);
  return error ? { error } : { ids };
}

const cache = new Map<string, Compiled | string>();

/** Parses and type-checks an expression once; a string is why it is not a valid one. */
function compile(source: string): Compiled | string {
  const cached = cache.get(source);
  if (cached !== undefined) return cached;
  let result: Compiled | string;
  if (source.trim() === '') result = 'is an empty expression';
  else if (source.length > expressionLimits.maxChars) result = `is longer than ${expressionLimits.maxChars} characters`;
  else {
    try {
      const compiled = environment.parse(source);
      const checked = compiled.check() as { valid: boolean; error?: unknown };
      result = checked.valid ? compiled : `is not a valid expression: ${firstLine(checked.error)}`;
    } catch (err) {
      result = `is not a valid expression: ${firstLine(err)}`;
    }
  }
  if (cache.size > 2000) cache.clear();
  cache.set(source, result);
  return result;
}

/** `{{ expression }}` in a string; the whole string when it is exactly one of them. */
const templatePattern = /\{\{([\s\S]*?)\}\}/g;
const wholePattern = /^\{\{([\s\S]*?)\}\}$/;

/** One expression in a step: its source and the field it sits in, e.g. `input.body` or `when`. */
export interface StepExpression {
  field: string;
  source: string;
}

function collectTemplates(value: unknown, field: string, out: StepExpression[]): void {
  if (typeof value === 'string') {
    for (const match of value.matchAll(templatePattern)) out.push({ field, source: match[1]! });
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => {
      collectTemplates(v, `${field}.${i}`, out);
    });
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) collectTemplates(v, `${field}.${k}`, out);
  }
}

/** Every expression of a step: the templates in its input and its `when`. */
export function stepExpressions(step: { input: unknown; when?: string | undefined }): StepExpression[] {
  const out: StepExpression[] = [];
  collectTemplates(step.input, 'input', out);
  if (step.when !== undefined) out.push({ field: 'when', source: step.when });
  return out;
}

/**
 * Problems with the expressions of a DAG of steps (checked after the DAG itself): a bad
 * expression, a reference to an unknown step, or to a step that is not an ancestor (one the
 * step depends on, directly or through others), so its output cannot exist yet. Fields are
 * relative to the list, e.g. `1.input.body`.
 */
export function workflowReferenceIssues(
  steps: readonly { id: string; dependsOn: string[]; input: unknown; when?: string | undefined }[],
): FieldIssue[] {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const ancestorsMemo = new Map<string, Set<string>>();
  const ancestors = (id: string): Set<string> => {
    const known = ancestorsMemo.get(id);
    if (known) return known;
    const found = new Set<string>();
    ancestorsMemo.set(id, found);
    for (const dep of byId.get(id)?.dependsOn ?? []) {
      found.add(dep);
      for (const a of ancestors(dep)) found.add(a);
    }
    return found;
  };
  const issues: FieldIssue[] = [];
  steps.forEach((step, i) => {
    const expressions = stepExpressions(step);
    if (expressions.length > expressionLimits.maxTemplates) {
      issues.push({ field: `${i}.input`, message: `holds more than ${expressionLimits.maxTemplates} expressions` });
      return;
    }
    for (const { field, source } of expressions) {
      const where = `${i}.${field}`;
      const compiled = compile(source);
      if (typeof compiled === 'string') {
        issues.push({ field: where, message: `${JSON.stringify(source.trim())} ${compiled}` });
        continue;
      }
      const refs = stepReferences(compiled.ast as AstNode);
      if ('error' in refs) {
        issues.push({ field: where, message: `${JSON.stringify(source.trim())} ${refs.error}` });
        continue;
      }
      for (const ref of refs.ids) {
        if (!byId.has(ref)) issues.push({ field: where, message: `refers to unknown step ${ref}` });
        else if (!ancestors(step.id).has(ref)) {
          issues.push({
            field: where,
            message: `refers to step ${ref}, which is not an ancestor of step ${step.id}: add it to dependsOn (directly or through a step it depends on)`,
          });
        }
      }
    }
  });
  return issues;
}

/** What the expressions of a step can see when it starts. */
export interface ExpressionScope {
  input: Record<string, unknown>;
  /** Ancestors only, by id: `{status, output}` (a skipped step's output is null). */
  steps: Record<string, { status: string; output: unknown }>;
}

/** Why an expression could not be evaluated, naming its field. */
export class ExpressionError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'ExpressionError';
  }
}

/** A CEL value as JSON: ints (bigint) become numbers, timestamps ISO strings. */
function toJson(value: unknown, field: string): unknown {
  if (typeof value === 'bigint') {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new ExpressionError(field, `yields ${value}, an integer beyond what JSON numbers hold exactly`);
    }
    return Number(value);
  }
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ExpressionError(field, `yields ${value}, which JSON cannot hold`);
    return value;
  }
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => toJson(v, field));
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toJson(v, field)]));
  if (typeof value === 'object' && value.constructor === Object) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v, field)]));
  }
  throw new ExpressionError(field, `yields a value that is not JSON (${Object.prototype.toString.call(value)})`);
}

function evaluate(source: string, scope: ExpressionScope, field: string): unknown {
  const compiled = compile(source);
  if (typeof compiled === 'string') throw new ExpressionError(field, compiled);
  let value: unknown;
  try {
    value = compiled({ input: scope.input, steps: scope.steps });
  } catch (err) {
    throw new ExpressionError(field, `${JSON.stringify(source.trim())} failed: ${firstLine(err)}`);
  }
  const json = toJson(value, field);
  if (JSON.stringify(json).length > expressionLimits.maxValueBytes) {
    throw new ExpressionError(field, `yields more than ${expressionLimits.maxValueBytes} bytes of JSON`);
  }
  return json;
}

/** How an embedded value reads inside a string: strings as they are, null as "", the rest as JSON. */
const asText = (value: unknown): string =>
  typeof value === 'string' ? value : value === null ? '' : JSON.stringify(value);

function resolveValue(value: unknown, scope: ExpressionScope, field: string): unknown {
  if (typeof value === 'string') {
    const whole = wholePattern.exec(value);
    if (whole && !whole[1]!.includes('}}')) return evaluate(whole[1]!, scope, field);
    if (!value.includes('{{')) return value;
    return value.replace(templatePattern, (_m, source: string) => asText(evaluate(source, scope, field)));
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveValue(v, scope, `${field}.${i}`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveValue(v, scope, `${field}.${k}`)]));
  }
  return value;
}

/**
 * A step's input with every template replaced. A string that is exactly one `{{x}}` becomes
 * x's value, typed (a number, an object…); templates inside a longer string are interpolated
 * as text. Deterministic: the same scope always gives the same input. Throws ExpressionError.
 *
 * @example
 * resolveInput({ body: '{{steps.copy.output.text}}', subject: 'Ad for {{input.product}}' }, scope)
 */
export function resolveInput(input: Record<string, unknown>, scope: ExpressionScope): Record<string, unknown> {
  return resolveValue(input, scope, 'input') as Record<string, unknown>;
}

/** A step's `when`: true runs it, false skips it; anything but a bool is an ExpressionError. */
export function evaluateWhen(when: string, scope: ExpressionScope): boolean {
  const value = evaluate(when, scope, 'when');
  if (typeof value !== 'boolean') {
    throw new ExpressionError('when', `must yield true or false, got ${JSON.stringify(value)}`);
  }
  return value;
}
