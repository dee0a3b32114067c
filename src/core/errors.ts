/**
 * The error hierarchy of the system. Each error carries the HTTP status it maps to; the one middleware that
 * maps errors to responses (src/serving/http-errors.ts) relies on it. Messages never contain input values,
 * so they are safe to log and to return even when a field is PII.
 */

/** One problem with one field of a request, a record or a configuration. */
export interface FieldIssue {
  /** Path to the field, e.g. `instances[3].annual_income`. */
  readonly field: string;
  /** Why it was rejected, without echoing the value. */
  readonly reason: string;
}

export abstract class MlopsError extends Error {
  abstract readonly status: number;
  /** True when the message may be shown to the caller (client errors); false hides it behind a generic one. */
  readonly expose: boolean = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The caller sent something that does not satisfy the contract (400). */
export class ValidationError extends MlopsError {
  readonly status = 400;
  readonly issues: readonly FieldIssue[];

  constructor(issues: readonly FieldIssue[], message?: string, options?: { cause?: unknown }) {
    super(message ?? summarizeIssues(issues), options);
    this.issues = issues;
  }
}

/** A named thing (model, version, route) does not exist (404). */
export class NotFoundError extends MlopsError {
  readonly status = 404;
}

/** The request conflicts with the current state, e.g. a stale revision (409). */
export class ConflictError extends MlopsError {
  readonly status = 409;
}

/** The body is larger than the configured limit (413). */
export class PayloadTooLargeError extends MlopsError {
  readonly status = 413;
}

/** The body is not JSON (415). */
export class UnsupportedMediaTypeError extends MlopsError {
  readonly status = 415;
}

/** The method is not allowed on this resource (405). */
export class MethodNotAllowedError extends MlopsError {
  readonly status = 405;
}

/** A stored artifact or record is missing, corrupt or inconsistent: our fault, not the caller's (500). */
export class IntegrityError extends MlopsError {
  readonly status = 500;
  override readonly expose = false;
}

/** Configuration is missing or invalid; raised at start-up so a function never serves half-configured. */
export class ConfigError extends MlopsError {
  readonly status = 500;
  override readonly expose = false;
}

/** A dependency (registry, artifact store) could not be reached (503). */
export class DependencyUnavailableError extends MlopsError {
  readonly status = 503;
  override readonly expose = false;
}

function summarizeIssues(issues: readonly FieldIssue[]): string {
  const first = issues[0];
  if (!first) return 'invalid input';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return `${first.field}: ${first.reason}${more}`;
}

/** `JSON.parse`, with a syntax error reported as a validation error on `field` (never echoing the text). */
export function parseJsonText(text: string, field: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ValidationError([{ field, reason: 'is not valid JSON' }], undefined, { cause: error });
  }
}
