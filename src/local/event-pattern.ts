/**
 * EventBridge event patterns, evaluated locally: the subset our rules use, with EventBridge's semantics.
 *
 * - A pattern is an object; each key names a field of the event. An object value descends into the field;
 *   an array value lists matchers, any of which may match (OR). All keys must match (AND).
 * - Matchers: exact values (string, number, boolean, null; numbers compare numerically and never equal a
 *   string), `{prefix}`, `{suffix}`, `{"equals-ignore-case"}`, `{numeric: [op, n, (op, n)]}` with
 *   `<`, `<=`, `=`, `>=`, `>`, `{exists: true|false}` and `{"anything-but": value | [values] | {prefix}}`.
 * - When the event's field is an array, the matchers match if any element matches.
 *
 * Anything else (wildcards, `$or`, `cidr`) is refused when the pattern is checked, so a rule never silently
 * matches differently here than on AWS.
 */
export type PatternValue = string | number | boolean | null;

export type PatternMatcher =
  | PatternValue
  | { readonly prefix: string }
  | { readonly suffix: string }
  | { readonly 'equals-ignore-case': string }
  | { readonly numeric: readonly (string | number)[] }
  | { readonly exists: boolean }
  | { readonly 'anything-but': PatternValue | readonly PatternValue[] | { readonly prefix: string } };

export interface EventPattern {
  readonly [field: string]: EventPattern | readonly PatternMatcher[];
}

const NUMERIC_OPERATORS = new Set(['<', '<=', '=', '>=', '>']);

/**
 * Checks that a pattern only uses what this matcher implements; throws with the path of the first problem.
 *
 * @example
 * assertSupportedPattern({ detail: { score: [{ numeric: ['>=', 0.8] }] } });
 */
export function assertSupportedPattern(pattern: unknown, path = ''): asserts pattern is EventPattern {
  if (!isPlainObject(pattern)) throw new Error(`event pattern${path ? ` at ${path}` : ''} must be an object`);
  for (const [key, value] of Object.entries(pattern)) {
    const at = path ? `${path}.${key}` : key;
    if (Array.isArray(value)) value.forEach((m, i) => assertSupportedMatcher(m, `${at}[${i}]`));
    else if (isPlainObject(value)) assertSupportedPattern(value, at);
    else throw new Error(`event pattern at ${at} must be an array of matchers or an object`);
  }
}

function assertSupportedMatcher(matcher: unknown, at: string): void {
  if (matcher === null || ['string', 'number', 'boolean'].includes(typeof matcher)) return;
  if (!isPlainObject(matcher) || Object.keys(matcher).length !== 1) throw new Error(`event pattern matcher at ${at} must be a value or an object with one operator`);
  const [op, arg] = Object.entries(matcher)[0]!;
  switch (op) {
    case 'prefix':
    case 'suffix':
    case 'equals-ignore-case':
      if (typeof arg !== 'string') throw new Error(`${op} at ${at} takes a string`);
      return;
    case 'exists':
      if (typeof arg !== 'boolean') throw new Error(`exists at ${at} takes true or false`);
      return;
    case 'numeric':
      if (!Array.isArray(arg) || (arg.length !== 2 && arg.length !== 4)) throw new Error(`numeric at ${at} takes [op, n] or [op, n, op, n]`);
      for (let i = 0; i < arg.length; i += 2)
        if (!NUMERIC_OPERATORS.has(String(arg[i])) || typeof arg[i + 1] !== 'number') throw new Error(`numeric at ${at} takes operators < <= = >= > and numbers`);
      return;
    case 'anything-but':
      if (Array.isArray(arg) ? arg.every(isPatternValue) : isPatternValue(arg) || (isPlainObject(arg) && typeof arg.prefix === 'string')) return;
      throw new Error(`anything-but at ${at} takes a value, a list of values or {prefix}`);
    default:
      throw new Error(`event pattern operator "${op}" at ${at} is not supported locally`);
  }
}

/**
 * Whether an event (as EventBridge delivers it: `source`, `detail-type`, `detail`, ...) matches a pattern.
 *
 * @example
 * matchesPattern({ source: ['app'], detail: { score: [{ numeric: ['>=', 0.8] }] } }, { source: 'app', detail: { score: 0.91 } }); // true
 */
export function matchesPattern(pattern: EventPattern, event: unknown): boolean {
  const fields = isPlainObject(event) ? event : {};
  for (const [key, expected] of Object.entries(pattern)) {
    const value = fields[key];
    if (Array.isArray(expected)) {
      if (!matchesField(expected as readonly PatternMatcher[], value, key in fields)) return false;
    } else if (!matchesPattern(expected as EventPattern, value)) return false;
  }
  return true;
}

function matchesField(matchers: readonly PatternMatcher[], value: unknown, present: boolean): boolean {
  const values = Array.isArray(value) ? value : [value];
  return matchers.some((matcher) => {
    if (isPlainObject(matcher) && 'exists' in matcher) return matcher.exists === (present && !isPlainObject(value));
    if (!present) return false;
    return values.some((v) => matchesValue(matcher, v));
  });
}

function matchesValue(matcher: PatternMatcher, value: unknown): boolean {
  if (!isPlainObject(matcher)) return value === matcher;
  if ('prefix' in matcher) return typeof value === 'string' && value.startsWith(matcher.prefix);
  if ('suffix' in matcher) return typeof value === 'string' && value.endsWith(matcher.suffix);
  if ('equals-ignore-case' in matcher) return typeof value === 'string' && value.toLowerCase() === matcher['equals-ignore-case'].toLowerCase();
  if ('numeric' in matcher) return typeof value === 'number' && matchesNumeric(matcher.numeric, value);
  if ('anything-but' in matcher) {
    const but = matcher['anything-but'];
    if (Array.isArray(but)) return !but.includes(value as PatternValue);
    if (isPlainObject(but)) return typeof value === 'string' && !value.startsWith((but as { prefix: string }).prefix);
    return value !== but;
  }
  return false;
}

function matchesNumeric(conditions: readonly (string | number)[], value: number): boolean {
  for (let i = 0; i < conditions.length; i += 2) {
    const bound = conditions[i + 1] as number;
    switch (conditions[i]) {
      case '<':
        if (!(value < bound)) return false;
        break;
      case '<=':
        if (!(value <= bound)) return false;
        break;
      case '=':
        if (value !== bound) return false;
        break;
      case '>=':
        if (!(value >= bound)) return false;
        break;
      case '>':
        if (!(value > bound)) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

function isPatternValue(value: unknown): value is PatternValue {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
