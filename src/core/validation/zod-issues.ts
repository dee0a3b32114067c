import type { z } from 'zod';
import type { FieldIssue } from '../errors.js';

/** Turns zod issues into field issues with a readable path (`instances[2].income`), never echoing values. */
export function issuesFromZod(error: z.ZodError, root?: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) issues.push({ field: formatPath([...issue.path, key], root), reason: 'is not a known field' });
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
