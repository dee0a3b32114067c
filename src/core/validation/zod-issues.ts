import type { z } from 'zod';
import type { FieldIssue } from '../errors.js';

/** What a field name looks like (the spec's grammar); other keys may be data, so they are never echoed. */
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Turns zod issues into field issues with a readable path (`instances[2].income`), never echoing values. */
export function issuesFromZod(error: z.ZodError, root?: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        issues.push(
          FIELD_NAME.test(key)
            ? { field: formatPath([...issue.path, key], root), reason: 'is not a known field' }
            : { field: formatPath(issue.path, root), reason: 'has a field whose name is not a valid feature name (not echoed)' },
        );
      continue;
    }
    issues.push({ field: formatPath(issue.path, root), reason: issue.message });
  }
  return issues;
}

export function formatPath(path: readonly PropertyKey[], root?: string): string {
  let out = root ?? '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(body)' : out;
}
