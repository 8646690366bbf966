// zod's issues about a report, one line each, naming the field (`cka.matrix[3]`), what was expected and
// what was found. Where a field may take one of several forms (metrics, the keep target), the line speaks
// of the form that came closest, since "matches none of the accepted forms" does not say what to fix.

import type * as z from 'zod';
import { describeIssue, fieldName, lookup } from '../../io/config-issues.js';

type Key = string | number;

/** At most this many lines; a broken matrix would otherwise give one per cell. */
const MAX_LINES = 30;

export function formatReportIssues(issues: readonly z.core.$ZodIssue[], input: unknown): string[] {
  const lines = issues.flatMap((issue) => issueLines(issue, [], input));
  if (lines.length <= MAX_LINES) return lines;
  return [...lines.slice(0, MAX_LINES), `... and ${lines.length - MAX_LINES} more`];
}

function issueLines(issue: z.core.$ZodIssue, prefix: readonly Key[], input: unknown): string[] {
  const path = [...prefix, ...issue.path.filter((p): p is Key => typeof p !== 'symbol')];
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // The branch with the fewest complaints is the one the writer most likely meant.
    const closest = [...issue.errors].sort((a, b) => a.length - b.length)[0];
    if (closest.length > 0) return closest.flatMap((inner) => issueLines(inner, path, input));
  }
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${label([...path, key])}: is not a field of this object (a typo?)`);
  }
  return [`${label(path)}: ${describeIssue(issue, lookup(input, path))}`];
}

function label(path: readonly Key[]): string {
  return path.length === 0 ? 'report' : `field "${fieldName(path)}"`;
}
