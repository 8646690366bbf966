// The report's `reinitialised` list (VGG convs given fresh weights, SGLP.md §0): the schema accepts it only
// for kept units in ascending order, and report.html names the convs at the top.

import { beforeAll, describe, expect, it } from 'vitest';
import { renderReportHtml } from '../../src/report/html.js';
import { parseReport, type Report } from '../../src/sglp/report/schema.js';
import { resnet56Report } from './fixture.js';

const withReinit = (r: Report, reinitialised: unknown): unknown => ({ ...r, reinitialised });

describe('report.reinitialised', () => {
  let base: Report;
  let a: number;
  let b: number;
  beforeAll(async () => {
    base = await resnet56Report();
    [a, b] = base.kept.filter((u) => u > 0);
  });

  it('validates kept units in ascending order and is optional', () => {
    expect(parseReport(base).reinitialised).toBeUndefined();
    const list = [
      { unit: a, name: 'features.4', reason: 'its input width changes from 8 to 4 with features.3 removed' },
      { unit: b, name: 'features.7', reason: 'its input width changes' },
    ];
    expect(parseReport(withReinit(base, list)).reinitialised).toEqual(list);
  });

  it('refuses a removed unit, a wrong order, an empty list and unknown fields, naming the field', () => {
    const removed = base.removed[0];
    expect(() => parseReport(withReinit(base, [{ unit: removed, name: 'x', reason: 'y' }]))).toThrow(
      new RegExp(`field "reinitialised\\[0\\]\\.unit": is unit ${removed} .*which is not kept`),
    );
    const swapped = [
      { unit: b, name: 'x', reason: 'y' },
      { unit: a, name: 'z', reason: 'y' },
    ];
    expect(() => parseReport(withReinit(base, swapped))).toThrow(
      /field "reinitialised\[1\]\.unit": is \d+ after \d+, expected ascending distinct units/,
    );
    expect(() => parseReport(withReinit(base, []))).toThrow(/reinitialised/);
    expect(() => parseReport(withReinit(base, [{ unit: a, name: 'x', reason: 'y', seed: 0 }]))).toThrow(
      /reinitialised/,
    );
  });

  it('report.html names the re-initialised convs at the top', () => {
    const html = renderReportHtml(
      parseReport(withReinit(base, [{ unit: a, name: 'features.4', reason: 'width' }])),
    );
    expect(html).toMatch(/<dt>Re-initialised<\/dt><dd>features\.4<\/dd>/);
    expect(renderReportHtml(base)).not.toContain('Re-initialised');
  });
});
