import { hostname, userInfo } from 'node:os';
import { resolve } from 'node:path';
import { MlopsError, ValidationError } from '../core/errors.js';

export function dataDirOf(value: string | undefined): string {
  return resolve(value ?? process.env.MLOPS_HOME ?? '.mlops');
}

export function intOption(value: string, name: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new ValidationError([{ field: name, reason: `must be an integer from ${min} to ${max}` }]);
  return n;
}

export function fraction(value: string, name: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new ValidationError([{ field: name, reason: 'must be between 0 and 1' }]);
  return n;
}

export function targetOf(value: string | undefined): 'local' | 'aws' {
  const target = value ?? 'local';
  if (target !== 'local' && target !== 'aws') throw new ValidationError([{ field: '--target', reason: 'must be local or aws' }]);
  return target;
}

/** Who runs the command, as recorded in the registry's audit trail. */
export function actor(command: string): string {
  let user = process.env.USER ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep $USER
  }
  return `${user}@${hostname()} via mlops ${command}`;
}

export function describeError(error: unknown): string {
  if (error instanceof ValidationError)
    return error.issues.length > 1 ? `${error.message}\n${error.issues.map((i) => `  ${i.field}: ${i.reason}`).join('\n')}` : error.message;
  if (error instanceof MlopsError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Prints rows as an aligned text table. */
export function table(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}
