import { describe, expect, it } from 'vitest';
import { type CompareRow, compareRows, compareTable } from '../../src/report/compare.js';
import { asBaseline, llamaReport, resnet56Report } from './fixture.js';

describe('method comparison table', () => {
  it('lines up the unpruned model, SGLP and baselines as text and markdown', async () => {
    const sglp = await resnet56Report();
    const rows = compareRows([sglp, asBaseline(sglp, 'block-influence'), asBaseline(sglp, 'angular')]);
    expect(rows.map((r) => r.method)).toEqual([
      'unpruned',
      'SGLP (select min)',
      'Block Influence',
      'Angular distance',
    ]);
    const { text, markdown } = compareTable(rows);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(/^method\s+accuracy\s+loss\s+params\s+MACs\s+time$/);
    expect(lines[1]).toMatch(/^-+( {2}-+){5}$/);
    const before = sglp.metrics.before as { loss: number };
    expect(lines[2]).toMatch(/^unpruned\s+86\.52%\s+\d+\.\d{4}\s+0\.853 M\s+95\.8 M\s+-$/);
    expect(lines[2]).toContain(before.loss.toFixed(4));
    expect(lines[3]).toContain('45.51%');
    expect(lines[3]).toContain('(-43.5%)');
    // Right-aligned numbers: every metric cell ends in the same column.
    const end = lines[0].indexOf('accuracy') + 'accuracy'.length;
    for (const line of lines.slice(2)) expect(line.slice(end - 1, end)).toBe('%');
    expect(text).toMatch(/^[\x20-\x7e\n]*$/);
    const md = markdown.trimEnd().split('\n');
    expect(md[0]).toBe('| method | accuracy | loss | params | MACs | time |');
    expect(md[1]).toBe('| --- | ---: | ---: | ---: | ---: | ---: |');
    expect(md).toHaveLength(6);
  });

  it('adds a fine-tuned column when any run fine-tuned, and escapes pipes', async () => {
    const rows = compareRows([await llamaReport(12, { finetune: true })]);
    const renamed: CompareRow[] = [rows[0], { ...rows[1], method: 'a|b' }];
    const { text, markdown } = compareTable(renamed);
    expect(text.split('\n')[0]).toMatch(/perplexity\s+NLL\s+perplexity fine-tuned/);
    const nll = (rows[1].metric as { nll: number }).nll.toFixed(4);
    expect(markdown).toContain(`| a\\|b | 10.12 | ${nll} | 6.94 |`);
  });

  it('refuses to mix accuracy and perplexity', async () => {
    const rows = [...compareRows([await resnet56Report()]), ...compareRows([await llamaReport(12)])];
    expect(() => compareTable(rows)).toThrow(/mix accuracy and perplexity/);
  });
});
