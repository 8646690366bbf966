// How the page and the comparison table name methods and devices.

import type { Report } from '../sglp/report/schema.js';

const METHOD_NAMES: Record<Report['protocol']['method'], string> = {
  sglp: 'SGLP',
  random: 'Random units',
  last: 'Last units',
  'block-influence': 'Block Influence',
  angular: 'Angular distance',
};

export function methodLabel(report: Report): string {
  const name = METHOD_NAMES[report.protocol.method];
  const imp = report.protocol.importance;
  if (!imp) return name;
  return imp.score === 'gradnorm' ? `${name} (select ${imp.select})` : `${name} (${imp.score})`;
}

export function deviceLabel(d: Report['device']): string {
  return (
    [d.description, d.vendor, d.architecture].filter((s) => s.trim() !== '').join(' · ') || 'unknown adapter'
  );
}
