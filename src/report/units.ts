// What every chart needs to know about a unit: its name, its segment and whether it was kept.

import type { Report } from '../sglp/report/schema.js';

export interface UnitView {
  readonly index: number;
  readonly name: string;
  /** The name without the prefix all units share (`model.layers.7` → `7`), for axis labels. */
  readonly label: string;
  readonly protected: boolean;
  readonly protectedReason?: string;
  readonly removed: boolean;
  /** Index into segmentation.segments. */
  readonly segment: number;
}

export function unitViews(report: Report): UnitView[] {
  const removed = new Set(report.removed);
  const segmentOf = new Array<number>(report.units.length).fill(0);
  report.segmentation.segments.forEach(([start, end], s) => {
    for (let i = start; i < end; i++) segmentOf[i] = s;
  });
  const prefix = sharedPrefix(report.units.map((u) => u.name));
  return report.units.map((u) => ({
    index: u.index,
    name: u.name,
    label: u.name.slice(prefix.length),
    protected: u.protected,
    protectedReason: u.protectedReason,
    removed: removed.has(u.index),
    segment: segmentOf[u.index],
  }));
}

/**
 * The longest prefix ending in '.' that every name has and that leaves something of each (LLaMA's
 * `model.layers.`); '' when there is none or only one unit. Labels then show what tells units apart.
 */
export function sharedPrefix(names: readonly string[]): string {
  if (names.length < 2) return '';
  let prefix = names[0].slice(0, names[0].lastIndexOf('.') + 1);
  while (prefix !== '' && !names.every((n) => n.startsWith(prefix) && n.length > prefix.length)) {
    prefix = prefix.slice(0, prefix.slice(0, -1).lastIndexOf('.') + 1);
  }
  return prefix;
}
