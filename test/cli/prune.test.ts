// `sglp prune` end to end on a tiny random-weight cifar-resnet and synthetic MNIST-format files: the four
// output files, a report that validates, a pruned model that `sglp eval` loads and scores as the report
// says, identical reports from two runs (timings aside), an untouched input directory, clear errors.

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evalCommand } from '../../src/cli/eval.js';
import { type PruneCliOptions, pruneCommand } from '../../src/cli/prune.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import { openFileSource } from '../../src/node/files.js';
import { parseReport, reportWithoutTimings } from '../../src/sglp/report/schema.js';
import { captureIo, digest } from '../helpers/cli.js';
import { useGpu } from '../helpers/gpu.js';
import { writeTinyMnist, writeTinyModel } from '../helpers/tiny-model.js';

const exec = promisify(execFile);
const getGpu = useGpu();

let root: string;
let data: string;
let model: string;

const base = (out: string): PruneCliOptions => ({
  data: `mnist:${data}`,
  remove: 3,
  samples: 40,
  batch: 20,
  gradnormBatches: 2,
  gradnormBatchSize: 8,
  out,
  json: true,
});

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sglp-prune-'));
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

describe('sglp prune', () => {
  it('writes the pruned model and the report, prints the report, never touches the input', async () => {
    const gpu = await getGpu();
    const before = await digest(model);
    const out = join(root, 'pruned');
    const { io, out: stdout, err } = captureIo();
    const report = await pruneCommand(model, base(out), { io, gpu });
    expect((await readdir(out)).sort()).toEqual([
      'config.json',
      'model.safetensors',
      'report.html',
      'sglp-report.json',
    ]);
    expect(stdout).toHaveLength(1);
    expect(JSON.parse(stdout[0])).toEqual(JSON.parse(JSON.stringify(report)));
    const onDisk = parseReport(await readFile(join(out, 'sglp-report.json'), 'utf8'));
    expect(onDisk).toEqual(JSON.parse(JSON.stringify(report)));
    expect(onDisk.removed).toHaveLength(3);
    expect(onDisk.model).toMatchObject({ architecture: 'cifar-resnet', input: model, output: out });
    expect(err.join('')).toMatch(/calibration features/);
    expect(err.join('')).toMatch(/batch-norm recalibration/);
    expect(onDisk.protocol.importance?.score).toBe('similarity');
    expect(await readFile(join(out, 'report.html'), 'utf8')).toMatch(/^<!doctype html>/i);
    expect(await digest(model)).toEqual(before);

    // The pruned config keeps fewer blocks; the checkpoint carries num_batches_tracked over.
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    const kept = report.kept.filter((u) => u > 0);
    expect(config.blocks.reduce((a: number, b: number) => a + b, 0)).toBe(kept.length);
    const src = await openFileSource(join(out, 'model.safetensors'));
    const st = await openSafetensors(src);
    expect(st.info('layer1.0.bn1.num_batches_tracked').dtype).toBe('I64');
    expect(Array.from(await st.int32('bn1.num_batches_tracked'))).toEqual([42]);
    await src.close?.();

    // `sglp eval` loads the pruned model, which carries the recalibrated BN statistics, and agrees with the
    // report's "recalibrated".
    const m = await evalCommand(out, { data: `mnist:${data}` }, { io: captureIo().io, gpu });
    const after = report.metrics.recalibrated as { accuracy: number; loss: number; samples: number };
    expect(report.protocol.recalibration?.samples).toBe(64);
    expect(m.samples).toBe(after.samples);
    expect(m.accuracy).toBe(after.accuracy);
    expect(m.loss).toBeCloseTo(after.loss, 6);
  });

  it('gives identical reports and model files from two runs (timings aside)', async () => {
    const gpu = await getGpu();
    const a = join(root, 'a');
    const b = join(root, 'b');
    const ra = await pruneCommand(model, { ...base(a), evalLimit: 10 }, { io: captureIo().io, gpu });
    const rb = await pruneCommand(model, { ...base(b), evalLimit: 10 }, { io: captureIo().io, gpu });
    expect(ra.metrics.before).toMatchObject({ samples: 10 });
    const strip = (r: typeof ra) => ({ ...reportWithoutTimings(r), model: { ...r.model, output: '' } });
    expect(strip(rb)).toEqual(strip(ra));
    const da = await digest(a);
    const db = await digest(b);
    expect(db['model.safetensors']).toBe(da['model.safetensors']);
    expect(db['config.json']).toBe(da['config.json']);
  });

  it('prints a summary without --json', async () => {
    const gpu = await getGpu();
    const { io, out } = captureIo();
    await pruneCommand(
      model,
      { ...base(join(root, 'plain')), json: false, keepPerSegment: undefined, remove: 2 },
      { io, gpu },
    );
    const text = out.join('');
    expect(text).toMatch(/removed 2 of 10 units/);
    expect(text).toMatch(/accuracy .*% → .*%/);
    expect(text).toMatch(/note: reduced protocol/);
  });

  it('gives clear errors for unsupported and contradictory requests, and never writes over the input', async () => {
    const gpu = await getGpu();
    const before = await digest(model);
    const { io } = captureIo();
    const out = join(root, 'err');
    await expect(pruneCommand(model, { ...base(out), method: 'bogus' }, { io, gpu })).rejects.toThrow(
      /--method must be one of sglp, random, last, block-influence, angular, got "bogus"/,
    );
    await expect(
      pruneCommand(
        model,
        { ...base(out), method: 'angular', remove: undefined, keepPerSegment: '1,2' },
        { io, gpu },
      ),
    ).rejects.toThrow(/--method angular takes --remove R, not --keep-per-segment/);
    await expect(
      pruneCommand(model, { ...base(out), method: 'random', seed: 0.5 }, { io, gpu }),
    ).rejects.toThrow(/--seed must be an integer/);
    await expect(
      pruneCommand(model, { ...base(out), method: 'last', remove: 8 }, { io, gpu }),
    ).rejects.toThrow(/only 7 units are unprotected/);
    await expect(pruneCommand(model, { ...base(out), finetuneEpochs: 1.5 }, { io, gpu })).rejects.toThrow(
      /--finetune-epochs must be an integer >= 0, got 1.5/,
    );
    await expect(pruneCommand(model, { ...base(out), keepPerSegment: '1,2' }, { io, gpu })).rejects.toThrow(
      /exactly one of --remove/,
    );
    await expect(pruneCommand(model, { ...base(out), remove: undefined }, { io, gpu })).rejects.toThrow(
      /exactly one of --remove/,
    );
    await expect(
      pruneCommand(model, { ...base(out), remove: undefined, keepPerSegment: '3,x' }, { io, gpu }),
    ).rejects.toThrow(/--keep-per-segment must be counts/);
    await expect(pruneCommand(model, base(model), { io, gpu })).rejects.toThrow(/is the input model/);
    const full = join(root, 'full');
    await mkdir(full);
    await writeFile(join(full, 'x'), 'x');
    await expect(pruneCommand(model, base(full), { io, gpu })).rejects.toThrow(/not empty/);
    await expect(pruneCommand(model, { ...base(out), remove: 8 }, { io, gpu })).rejects.toThrow(/remove/);
    await expect(pruneCommand(model, { ...base(out), samples: 1000 }, { io, gpu })).rejects.toThrow(
      /--samples 1000/,
    );
    expect(await digest(model)).toEqual(before);
  });
});

describe('the sglp binary: prune', () => {
  beforeAll(async () => {
    await exec(process.execPath, ['scripts/build.mjs', '--no-types']);
  });

  it('--json prints exactly the report on stdout; --help lists the options', async () => {
    const out = join(root, 'bin');
    const r = await exec(process.execPath, [
      'dist/cli.js',
      'prune',
      model,
      '--data',
      `mnist:${data}`,
      '--remove',
      '2',
      '--samples',
      '40',
      '--batch',
      '20',
      '--gradnorm-batches',
      '1',
      '--gradnorm-batch-size',
      '8',
      '--max-exhaustive',
      '1',
      '--score',
      'gradnorm',
      '--out',
      out,
      '--json',
    ]);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const report = parseReport(r.stdout);
    expect(report.removed).toHaveLength(2);
    expect(report.protocol.importance?.maxExhaustive).toBe(1);
    expect(r.stderr).toMatch(/GradNorm search/);
    const help = await exec(process.execPath, ['dist/cli.js', 'prune', '--help']);
    for (const flag of [
      '--remove',
      '--keep-per-segment',
      '--segments',
      '--select',
      '--eval-limit',
      '--out',
    ]) {
      expect(help.stdout).toContain(flag);
    }
  });
});
