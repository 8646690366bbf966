// `sglp cka` on the tiny random-weight cifar-resnet and synthetic MNIST-format files: the JSON shape of
// DESIGN.md ({units, matrix, rowSums, batches}), values equal to the CKA that `sglp prune` (pruneSglp)
// computes on the same samples, the --out file, the unbiased estimator, clear errors, and the binary.

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ckaCommand } from '../../src/cli/cka.js';
import { pruneCommand } from '../../src/cli/prune.js';
import { captureIo } from '../helpers/cli.js';
import { useGpu } from '../helpers/gpu.js';
import { writeTinyMnist, writeTinyModel } from '../helpers/tiny-model.js';

const exec = promisify(execFile);
const getGpu = useGpu();

let root: string;
let data: string;
let model: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sglp-cka-'));
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

describe('sglp cka', () => {
  it("prints {units, matrix, rowSums, batches} equal to pruneSglp's CKA, and writes --out", async () => {
    const gpu = await getGpu();
    const { io, out, err } = captureIo();
    const file = join(root, 'cka.json');
    const r = await ckaCommand(
      model,
      { data: `mnist:${data}`, samples: 40, batch: 20, out: file, json: true },
      { io, gpu },
    );
    expect(out).toHaveLength(1);
    const printed = JSON.parse(out[0]);
    expect(printed).toEqual(JSON.parse(JSON.stringify(r)));
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(printed);
    expect(Object.keys(printed)).toEqual(
      expect.arrayContaining(['units', 'matrix', 'rowSums', 'batches', 'batchSize', 'estimator']),
    );
    expect(printed.units).toEqual([
      'conv1',
      ...[1, 2, 3].flatMap((s) => [0, 1, 2].map((b) => `layer${s}.${b}`)),
    ]);
    expect(printed.batches).toBe(2);
    expect(printed.matrix).toHaveLength(10);
    printed.matrix.forEach((row: number[], i: number) => {
      expect(row).toHaveLength(10);
      expect(row[i]).toBe(1);
      row.forEach((v, j) => {
        expect(v).toBe(printed.matrix[j][i]);
      });
      expect(printed.rowSums[i]).toBeCloseTo(
        row.reduce((a, b) => a + b, 0),
        12,
      );
    });
    expect(err.join('')).toMatch(/calibration features \+ CKA/);

    // The same numbers `sglp prune` puts in its report.
    const report = await pruneCommand(
      model,
      {
        data: `mnist:${data}`,
        remove: 2,
        samples: 40,
        batch: 20,
        gradnormBatches: 1,
        gradnormBatchSize: 8,
        out: join(root, 'pruned'),
        json: true,
      },
      { io: captureIo().io, gpu },
    );
    expect(report.cka.matrix).toEqual(printed.matrix);
    expect(report.segmentation.rowSums).toEqual(printed.rowSums);
  });

  it('--estimator unbiased gives another matrix; bad options are named', async () => {
    const gpu = await getGpu();
    const opts = { data: `mnist:${data}`, samples: 40, batch: 20, json: true };
    const biased = await ckaCommand(model, opts, { io: captureIo().io, gpu });
    const unbiased = await ckaCommand(model, { ...opts, estimator: 'unbiased' }, { io: captureIo().io, gpu });
    expect(unbiased.estimator).toBe('unbiased');
    expect(unbiased.matrix).not.toEqual(biased.matrix);
    const { io, out } = captureIo();
    await ckaCommand(model, { ...opts, json: false }, { io, gpu });
    expect(out.join('')).toMatch(/biased linear CKA of 10 units over 2 batch\(es\) of 20/);
    await expect(ckaCommand(model, { ...opts, estimator: 'x' }, { io, gpu })).rejects.toThrow(
      /--estimator must be one of biased, unbiased, got "x"/,
    );
    await expect(ckaCommand(model, { ...opts, samples: 1000 }, { io, gpu })).rejects.toThrow(
      /--samples 1000/,
    );
    await expect(ckaCommand(join(root, 'nope'), opts, { io, gpu })).rejects.toThrow(/not found/);
  });
});

describe('the sglp binary: cka', () => {
  beforeAll(async () => {
    await exec(process.execPath, ['scripts/build.mjs', '--no-types']);
  });

  it('--json prints one JSON object; --help lists the options', async () => {
    const r = await exec(process.execPath, [
      'dist/cli.js',
      'cka',
      model,
      '--data',
      `mnist:${data}`,
      '--samples',
      '20',
      '--batch',
      '10',
      '--json',
    ]);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const o = JSON.parse(r.stdout);
    expect(o.batches).toBe(2);
    expect(o.units).toHaveLength(10);
    const help = await exec(process.execPath, ['dist/cli.js', 'cka', '--help']);
    for (const flag of ['--data', '--samples', '--batch', '--estimator', '--out', '--json']) {
      expect(help.stdout).toContain(flag);
    }
  });
});
