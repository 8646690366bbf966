import { describe, expect, it } from 'vitest';
import { textOn, viridis } from '../../src/report/color.js';
import { fmtChange, fmtCount, fmtInt, fmtMetricChange, fmtMs, sig } from '../../src/report/format.js';
import { renderReportHtml } from '../../src/report/html.js';
import { escapeHtml, fragment, h, trusted } from '../../src/report/markup.js';
import { ticks } from '../../src/report/scale.js';
import { sharedPrefix } from '../../src/report/units.js';
import { asBaseline, llamaReport, resnet56Report } from './fixture.js';

const EVIL = '<script>alert(1)</script>';

describe('markup builder', () => {
  it('escapes text and attribute values, and only trusted markup passes as is', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const m = h('p', { title: '"><script>', hidden: true, skip: false }, EVIL, h('b', {}, 1), [null, 'x']);
    expect(m.html).toBe(
      '<p title="&quot;&gt;&lt;script&gt;" hidden>&lt;script&gt;alert(1)&lt;/script&gt;<b>1</b>x</p>',
    );
    expect(fragment(trusted('<i>ok</i>'), '<i>').html).toBe('<i>ok</i>&lt;i&gt;');
    expect(h('rect', { x: 1 }).html).toBe('<rect x="1"/>');
    expect(h('meta', { charset: 'utf-8' }).html).toBe('<meta charset="utf-8">');
  });

  it('refuses tag and attribute names that could break out', () => {
    expect(() => h('p onload=x', {})).toThrow(/bad tag name/);
    expect(() => h('p', { 'a"b': 1 })).toThrow(/bad attribute name/);
  });
});

describe('report.html as text', () => {
  it('keeps hostile names, paths and notes as text', async () => {
    const report = await resnet56Report({ rename: (name, i) => (i === 3 ? EVIL : name) });
    report.model.input = 'models/"quoted" & <odd>';
    report.notes = ['</style><script>alert(2)</script>'];
    report.device.description = '<img src=x onerror=alert(3)>';
    const html = renderReportHtml(report);
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('</style><script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('models/&quot;quoted&quot; &amp; &lt;odd&gt;');
  });

  it('is one self-contained page that loads nothing', async () => {
    const html = renderReportHtml(await resnet56Report({ finetune: true }));
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(html).not.toMatch(/\s(src|href)=/);
    expect(html).not.toMatch(/@import|@font-face|https?:\/\//);
    expect(html.match(/url\([^)]*\)/g)?.every((u) => u.startsWith('url(#'))).toBe(true);
    expect(html).toContain('content="default-src &#39;none&#39;;');
  });

  it('gives equal pages for equal reports', async () => {
    expect(renderReportHtml(await llamaReport(12))).toBe(renderReportHtml(await llamaReport(12)));
  });

  it('shows the headline numbers and every section', async () => {
    const html = renderReportHtml(await resnet56Report({ finetune: true }));
    for (const text of ['86.52%', '45.51%', '91.17%', '0.853 M', '95.8 M', 'SGLP (select min)', 'K = 5']) {
      expect(html).toContain(text);
    }
    for (const id of ['units', 'cka', 'segmentation', 'importance', 'cost', 'protocol']) {
      expect(html).toContain(`id="${id}"`);
    }
    // One heatmap cell (a rect with a title) per pair of units.
    const cells = html.slice(html.indexOf('class="cells"'), html.indexOf('class="segment-boxes"'));
    expect(cells.match(/<rect /g)).toHaveLength(28 * 28);
  });

  it('draws unit scores for baselines and perplexity for language models', async () => {
    const baseline = renderReportHtml(asBaseline(await resnet56Report(), 'block-influence'));
    expect(baseline).toContain('id="unit-scores"');
    expect(baseline).not.toContain('id="importance"');
    const lm = renderReportHtml(await llamaReport(12, { finetune: true }));
    expect(lm).toContain('Perplexity');
    expect(lm).toContain('MACs per token');
    expect(lm).toContain('model.layers.N');
  });
});

describe('formatting', () => {
  it('formats counts, changes, durations and digits', () => {
    expect(fmtInt(852730)).toBe('852,730');
    expect(fmtCount(852730)).toBe('0.853 M');
    expect(fmtCount(95849344)).toBe('95.8 M');
    expect(fmtCount(4672)).toBe('4.67 K');
    expect(fmtCount(650)).toBe('650');
    expect(fmtChange(852730, 372000)).toBe('\u221256.4%');
    expect(fmtChange(100, 100, '-')).toBe('0%');
    expect(fmtMs(0.38)).toBe('0.38 ms');
    expect(fmtMs(947.2)).toBe('947 ms');
    expect(fmtMs(6810)).toBe('6.81 s');
    expect(fmtMs(412_334)).toBe('6 min 52 s');
    expect(fmtMs(3_725_000)).toBe('1 h 02 min');
    expect(sig(1.23456, 3)).toBe('1.23');
    expect(sig(438.06, 3)).toBe('438');
    const acc = (accuracy: number) => ({ accuracy, loss: 1, samples: 1 });
    expect(fmtMetricChange(acc(0.8652), acc(0.4551), '-')).toBe('-41.0 pts');
  });

  it('uses viridis, readable text colours and round ticks', () => {
    expect(viridis(0)).toBe('#440154');
    expect(viridis(1)).toBe('#fde725');
    expect(viridis(2)).toBe('#fde725');
    expect(textOn(viridis(0))).toBe('#ffffff');
    expect(textOn(viridis(1))).toBe('#000000');
    expect(ticks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(ticks(1.63, 2.26, 4)).toEqual([1.8, 2, 2.2]);
  });

  it('shortens labels by the prefix all units share', () => {
    expect(sharedPrefix(['model.layers.0', 'model.layers.11'])).toBe('model.layers.');
    expect(sharedPrefix(['conv1', 'layer1.0'])).toBe('');
    expect(sharedPrefix(['features.0', 'features.3'])).toBe('features.');
    expect(sharedPrefix(['a.b.c', 'a.b'])).toBe('a.');
    expect(sharedPrefix(['model.layers.0'])).toBe('');
  });
});
