// zod's issues turned into one line each that names the config field and says what was expected and found.

import type * as z from 'zod';

export function formatIssues(issues: readonly z.core.$ZodIssue[], input: unknown): string[] {
  return issues.map((issue) => {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    const field = fieldName(path);
    const found = lookup(input, path);
    return `${field ? `field "${field}"` : 'config'}: ${describeIssue(issue, found)}`;
  });
}

/** `normalize.mean[1]` from ['normalize', 'mean', 1]. */
export function fieldName(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** Whether the input holds a value at a path, and which. */
export type Found = { present: false } | { present: true; value: unknown };

export function lookup(input: unknown, path: readonly (string | number)[]): Found {
  let cur = input;
  for (const p of path) {
    if (typeof cur !== 'object' || cur === null || !Object.hasOwn(cur, p)) return { present: false };
    cur = (cur as Record<string | number, unknown>)[p];
    if (cur === undefined) return { present: false };
  }
  return { present: true, value: cur };
}

/** One zod issue in words: what was expected, and what was found. */
export function describeIssue(issue: z.core.$ZodIssue, found: Found): string {
  const got = found.present ? `, got ${show(found.value)}` : '';
  switch (issue.code) {
    case 'invalid_type': {
      const expected = issue.expected === 'int' ? 'an integer' : issue.expected;
      return found.present ? `expected ${expected}${got}` : `missing (expected ${expected})`;
    }
    case 'invalid_value': {
      const values = issue.values.map((v) => JSON.stringify(v));
      const expected = values.length === 1 ? values[0] : `one of ${values.join(', ')}`;
      return found.present ? `expected ${expected}${got}` : `missing (expected ${expected})`;
    }
    case 'too_small':
    case 'too_big':
      return `${issue.message.replace(/^Too (small|big): /, '')}${got}`;
    case 'invalid_union':
      return `matches none of the accepted forms${got}`;
    default:
      return issue.message;
  }
}

export function show(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
