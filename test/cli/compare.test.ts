// `sglp compare` on the tiny random-weight cifar-resnet and synthetic MNIST-format files: every method runs
// on the same samples and budget into DIR/<method>/, the table is printed (one row per method after the
// unpruned model) and written as JSON and markdown, the unpruned model is evaluated once, and bad
// --methods lists are refused.

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareCommand, parseMethods } from '../../src/cli/compare.js';
import { parseReport } from '../../src/sglp/report/schema.js';
import { captureIo } from '../helpers/cli.js';
import { useGpu } from '../helpers/gpu.js';
import { TINY_LLAMA_TEXT, writeTinyLlama } from '../helpers/tiny-llama.js';
import { writeTinyMnist, writeTinyModel } from '../helpers/tiny-model.js';

const exec = promisify(execFile);
const getGpu = useGpu();

let root: string;
let data: string;
let model: string;

const protocol = {
  remove: 3,
  samples: 40,
  batch: 20,
  gradnormBatches: 1,
  gradnormBatchSize: 8,
  evalLimit: 20,
};

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sglp-compare-'));
  data = join(root, 'data');
  model = join(root, 'model');
  await mkdir(data);
  await mkdir(model);
  await writeTinyMnist(data, 64, 30);
  await writeTinyModel(model);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('sglp compare', () => {
  it('runs every method on the same data and budget, prints the table, writes reports and the table', async () => {
    const gpu = await getGpu();
    const out = join(root, 'all');
    const { io, out: stdout, err } = captureIo();
    const result = await compareCommand(model, { data: `mnist:${data}`, ...protocol, out }, { io, gpu });
    const methods = ['sglp', 'random', 'last', 'block-influence', 'angular'];
    expect(result.methods).toEqual(methods);
    expect((await readdir(out)).sort()).toEqual([...methods, 'compare.json', 'compare.md'].sort());
    const reports = [];
    for (const m of methods) {
      expect((await readdir(join(out, m))).sort()).toEqual([
        'config.json',
        'model.safetensors',
        'report.html',
        'sglp-report.json',
      ]);
      reports.push(parseReport(await readFile(join(out, m, 'sglp-report.json'), 'utf8')));
    }
    for (const r of reports) {
      expect(r.removed).toHaveLength(3);
      expect(r.protocol.features).toEqual(reports[0].protocol.features);
      expect(r.metrics.before).toEqual(reports[0].metrics.before);
      expect(r.metrics.after).toMatchObject({ samples: 20 });
    }
    expect(reports.map((r) => r.protocol.method)).toEqual(methods);
    // The unpruned model was evaluated once, by the first run.
    expect(err.join('').match(/eval before/g)?.length ?? 0).toBeGreaterThan(0);
    const evalBeforeRuns = err
      .join('')
      .split('== ')
      .filter((chunk) => /eval before/.test(chunk));
    expect(evalBeforeRuns).toHaveLength(1);

    // The table: header, rule, unpruned, one row per method, in order.
    const text = stdout.join('');
    const lines = text.split('\n');
    const head = lines.findIndex((l) =>
      /^method\s+accuracy\s+loss\s+accuracy recalibrated\s+params\s+MACs\s+time$/.test(l),
    );
    expect(head).toBeGreaterThanOrEqual(0);
    const rows = lines.slice(head + 2, head + 8);
    expect(rows.map((l) => l.split(/\s{2,}/)[0])).toEqual([
      'unpruned',
      'SGLP (similarity)',
      'Random units',
      'Last units',
      'Block Influence',
      'Angular distance',
    ]);
    reports.forEach((r, i) => {
      const after = r.metrics.after as { accuracy: number; loss: number };
      expect(rows[i + 1]).toContain(`${(100 * after.accuracy).toFixed(2)}%`);
      expect(rows[i + 1]).toContain(after.loss.toFixed(4));
    });
    const json = JSON.parse(await readFile(join(out, 'compare.json'), 'utf8'));
    expect(json.rows.map((r: { method: string }) => r.method)).toEqual(rows.map((l) => l.split(/\s{2,}/)[0]));
    expect(json.reports.angular).toBe(join(out, 'angular', 'sglp-report.json'));
    expect(await readFile(join(out, 'compare.md'), 'utf8')).toBe(json.markdown);
    expect(json.markdown.split('\n')[0]).toBe(
      '| method | accuracy | loss | accuracy recalibrated | params | MACs | time |',
    );
    // Every method got the same repair, and the calibration was computed once.
    for (const r of reports) expect(r.protocol.recalibration).toEqual(reports[0].protocol.recalibration);
    expect(err.join('').match(/calibration features \+ CKA 1\//g)?.length).toBe(1);
  });

  it('parses --methods, refusing unknown and repeated methods; refuses a non-empty --out', async () => {
    expect(parseMethods('last, random')).toEqual(['last', 'random']);
    expect(parseMethods(undefined)).toEqual(['sglp', 'random', 'last', 'block-influence', 'angular']);
    expect(() => parseMethods('sglp,magic')).toThrow(/unknown method "magic"/);
    expect(() => parseMethods('last,last')).toThrow(/lists "last" twice/);
    expect(() => parseMethods('last,')).toThrow(/comma-separated/);
    const full = join(root, 'full');
    await mkdir(full);
    await writeFile(join(full, 'x'), 'x');
    const gpu = await getGpu();
    await expect(
      compareCommand(model, { data: `mnist:${data}`, ...protocol, out: full }, { io: captureIo().io, gpu }),
    ).rejects.toThrow(/not empty/);
  });
});

describe('the sglp binary: compare', () => {
  beforeAll(async () => {
    await exec(process.execPath, ['scripts/build.mjs', '--no-types']);
  });

  it('--json prints one JSON object; --help lists the options', async () => {
    const out = join(root, 'bin');
    const r = await exec(process.execPath, [
      'dist/cli.js',
      'compare',
      model,
      '--data',
      `mnist:${data}`,
      '--remove',
      '2',
      '--methods',
      'last,random',
      '--seed',
      '3',
      '--samples',
      '20',
      '--batch',
      '10',
      '--eval-limit',
      '10',
      '--out',
      out,
      '--json',
    ]);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const o = JSON.parse(r.stdout);
    expect(o.methods).toEqual(['last', 'random']);
    expect(o.rows).toHaveLength(3);
    const random = parseReport(await readFile(join(out, 'random', 'sglp-report.json'), 'utf8'));
    expect(random.protocol.seed).toBe(3);
    expect(r.stderr).toMatch(/sglp compare/);
    const help = await exec(process.execPath, ['dist/cli.js', 'compare', '--help']);
    for (const flag of ['--remove', '--methods', '--out', '--seed', '--samples', '--eval-limit', '--json']) {
      expect(help.stdout).toContain(flag);
    }
    const prune = await exec(process.execPath, ['dist/cli.js', 'prune', '--help']);
    for (const flag of ['--method', '--seed']) expect(prune.stdout).toContain(flag);
  });
});

describe('sglp compare on a language model', () => {
  it('prunes with every method and prints one perplexity table, the unpruned model evaluated once', async () => {
    const gpu = await getGpu();
    const lm = join(root, 'lm');
    await writeTinyLlama(lm, { layers: 6, tied: true, dtype: 'F32', seed: 7 });
    const corpus = join(root, 'corpus.txt');
    await writeFile(corpus, TINY_LLAMA_TEXT.repeat(8));
    const out = join(root, 'lm-compare');
    const { io, out: stdout, err } = captureIo();
    const methods = 'sglp,last,block-influence';
    const result = await compareCommand(
      lm,
      {
        data: `text:${corpus}`,
        remove: 2,
        segments: 2,
        methods,
        seqLen: 16,
        samples: 4,
        batch: 2,
        gradnormBatchSize: 2,
        out,
      },
      { io, gpu },
    );
    const reports = await Promise.all(
      result.methods.map(async (m) => parseReport(await readFile(join(out, m, 'sglp-report.json'), 'utf8'))),
    );
    for (const r of reports) {
      expect(r.removed).toHaveLength(2);
      expect(r.metrics.before).toEqual(reports[0].metrics.before);
      expect(r.metrics.recalibrated).toBeUndefined();
    }
    const lines = stdout.join('').split('\n');
    const head = lines.findIndex((l) => /^method\s+perplexity\s+NLL\s+params\s+MACs\s+time$/.test(l));
    expect(head).toBeGreaterThanOrEqual(0);
    expect(lines.slice(head + 2, head + 6).map((l) => l.split(/\s{2,}/)[0])).toEqual([
      'unpruned',
      `SGLP (${reports[0].protocol.importance?.score === 'gradnorm' ? 'select min' : reports[0].protocol.importance?.score})`,
      'Last units',
      'Block Influence',
    ]);
    expect(
      err
        .join('')
        .split('== ')
        .filter((chunk) => /eval before/.test(chunk)),
    ).toHaveLength(1);
  });
});
