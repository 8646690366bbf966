// What the cross-field checks of a report (checks.ts, checks-search.ts) share: how an issue is reported,
// the tolerance for repeated derived numbers, and how units are named and counted.

import type { Report } from './schema.js';

export type Path = (string | number)[];
export type Issue = (path: Path, message: string) => void;

/** Allowed |a − b| where a report repeats a derived number (row sums, a symmetric matrix). */
export const TOLERANCE = 1e-6;

export function unitLabel(r: Report, i: number): string {
  const name = r.units[i]?.name;
  return name === undefined ? `unit ${i}` : `unit ${i} (${name})`;
}

export function keptIn(r: Report, [start, end]: [number, number]): number[] {
  return r.kept.filter((u) => u >= start && u < end);
}
