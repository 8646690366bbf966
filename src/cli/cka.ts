// `sglp cka MODEL --data SPEC [--samples N --batch B --estimator biased|unbiased] [--out FILE] [--json]`:
// the averaged CKA matrix of every pair of units on the calibration samples (src/sglp/calibrate.ts, the
// same stage `sglp prune` runs) → {units, matrix, rowSums, batches}. `--out` writes that JSON atomically;
// without `--json`, stdout gets a short summary. Progress goes to stderr. A language model with text:FILE
// data goes to cka-llm.ts (--seq-len, --stream: layer streaming, --memory-cap).

import { type Command, Option } from 'commander';
import { parseDataSpec } from '../io/data-spec.js';
import { loadImageDataset } from '../node/datasets.js';
import { acquireDevice } from '../node/device.js';
import { writeFileAtomic } from '../node/files.js';
import { readRunnableConfig } from '../node/model-dir.js';
import { commandSignal } from '../node/signals.js';
import { CALIBRATION_DEFAULTS, calibrate } from '../sglp/calibrate.js';
import type { CkaResult, Estimator } from '../sglp/cka.js';
import { SGLP_TEXT_DEFAULTS } from '../sglp/families/lm/prune.js';
import { ESTIMATORS } from '../sglp/gram.js';
import { rowSums } from '../sglp/segment.js';
import { ckaLlm } from './cka-llm.js';
import { checkDatasetFits, intAtLeast } from './common.js';
import { loadModel } from './eval.js';
import { precisionOption } from './precision.js';
import { preflightCka } from './preflight.js';
import { formatBytes, Progress, processIo } from './progress.js';
import { type PruneDeps, readLlmConfig } from './prune.js';

export interface CkaCliOptions {
  readonly data: string;
  readonly samples?: number;
  readonly batch?: number;
  readonly estimator?: string;
  readonly out?: string;
  readonly json?: boolean;
  /** Language models only: tokens per window, layer streaming, and a device-memory cap in bytes. */
  readonly seqLen?: number;
  readonly stream?: boolean;
  readonly streamPerBatch?: boolean;
  readonly memoryCap?: number;
  /** Language models only: f32 or f16 weight matrices on the device (default f32). */
  readonly precision?: string;
}

/** DESIGN.md's `sglp cka` output. */
export interface CkaOutput {
  /** Unit names (state-dict prefixes), in unit order. */
  readonly units: string[];
  /** L × L, averaged over batches, diagonal exactly 1. */
  readonly matrix: number[][];
  /** Each unit's row sum (diagonal included): SGLP's segmentation input. */
  readonly rowSums: number[];
  readonly batches: number;
  readonly batchSize: number;
  readonly samples: number;
  readonly estimator: Estimator;
}

export async function ckaCommand(
  model: string,
  opts: CkaCliOptions,
  deps: PruneDeps = {},
): Promise<CkaOutput> {
  const io = deps.io ?? processIo;
  const estimator = (opts.estimator ?? CALIBRATION_DEFAULTS.estimator) as Estimator;
  if (!ESTIMATORS.includes(estimator)) {
    throw new Error(`--estimator must be one of ${ESTIMATORS.join(', ')}, got "${opts.estimator}"`);
  }
  parseDataSpec(opts.data); // a bad spec fails before anything slow
  const llm = await readLlmConfig(model);
  if (llm) {
    const r = await ckaLlm(model, llm.config, { ...opts, estimator }, deps);
    const streamed = opts.stream || opts.streamPerBatch ? ' (layer streaming)' : '';
    const peak = `peak device memory: ${formatBytes(r.peakBytes)} (${r.peakBytes} bytes)${streamed}`;
    return emit(model, { ...outputOf(r.cka), samples: r.samples }, opts, io, [peak]);
  }
  for (const [flag, set] of [
    ['--stream', opts.stream],
    ['--stream-per-batch', opts.streamPerBatch],
    ['--memory-cap', opts.memoryCap !== undefined],
    ['--seq-len', opts.seqLen !== undefined],
    [`--precision ${opts.precision}`, opts.precision !== undefined && opts.precision !== 'f32'],
  ] as const) {
    if (set) throw new Error(`${flag} applies to language models only; ${model} is not one`);
  }
  // Batch against samples and --out FILE, before the device (preflight.ts; cka-llm.ts runs it for text).
  const notes = await preflightCka(opts, CALIBRATION_DEFAULTS, { what: 'samples', model });
  for (const note of notes) io.stderr(`note: ${note}\n`);
  const samples = opts.samples ?? CALIBRATION_DEFAULTS.samples;
  const batch = opts.batch ?? CALIBRATION_DEFAULTS.batch;
  const config = await readRunnableConfig(model);
  const train = await loadImageDataset(opts.data, 'train');
  checkDatasetFits(train, config, model);
  if (samples > train.n) throw new Error(`--samples ${samples}: ${train.name} has only ${train.n} samples`);

  const gpu = deps.gpu ?? (await acquireDevice());
  let output: CkaOutput;
  try {
    const { params, net } = await loadModel(gpu, model, config);
    const progress = new Progress(io, 'calibration features + CKA', Math.ceil(samples / batch));
    try {
      const { cka } = await calibrate(
        gpu,
        { desc: net.desc, params, normalize: config.normalize, train },
        {
          samples,
          batch,
          estimator,
          net,
          signal: deps.signal,
          onProgress: (done) => progress.update(done),
        },
      );
      output = { ...outputOf(cka), samples };
    } finally {
      progress.stop();
      params.dispose();
    }
  } finally {
    if (!deps.gpu) gpu.destroy();
  }
  return emit(model, output, opts, io);
}

function outputOf(cka: CkaResult): Omit<CkaOutput, 'samples'> {
  return {
    units: cka.units,
    matrix: cka.matrix,
    rowSums: rowSums(cka.matrix),
    batches: cka.batches,
    batchSize: cka.batchSize,
    estimator: cka.estimator,
  };
}

/** Writes --out, then the JSON or the summary (with `extra` lines) on stdout. */
async function emit(
  model: string,
  output: CkaOutput,
  opts: CkaCliOptions,
  io: typeof processIo,
  extra: readonly string[] = [],
): Promise<CkaOutput> {
  const json = JSON.stringify(output);
  if (opts.out !== undefined) await writeFileAtomic(opts.out, `${json}\n`);
  if (opts.json) io.stdout(`${json}\n`);
  else io.stdout(summary(model, output, opts.out, extra));
  return output;
}

function summary(model: string, o: CkaOutput, out: string | undefined, extra: readonly string[]): string {
  const L = o.units.length;
  let lo = { v: Number.POSITIVE_INFINITY, i: 0, j: 0 };
  for (let i = 0; i < L; i++) {
    for (let j = i + 1; j < L; j++) if (o.matrix[i][j] < lo.v) lo = { v: o.matrix[i][j], i, j };
  }
  const lines = [
    `${model}: ${o.estimator} linear CKA of ${L} units over ${o.batches} batch(es) of ${o.batchSize} ` +
      `(${o.samples} train samples)`,
    `row sums: ${o.rowSums.map((s) => s.toFixed(3)).join(' ')}`,
  ];
  if (L > 1) lines.push(`least similar pair: ${o.units[lo.i]} / ${o.units[lo.j]} (CKA ${lo.v.toFixed(4)})`);
  lines.push(...extra);
  if (out !== undefined) lines.push(`written: ${out}`);
  return `${lines.join('\n')}\n`;
}

/** `sglp cka` on the command line. */
export function registerCka(program: Command): void {
  program
    .command('cka')
    .description(
      'linear CKA between every pair of units on the calibration samples: {units, matrix, rowSums, batches}',
    )
    .argument('<MODEL>', 'model directory (config.json + model.safetensors)')
    .requiredOption(
      '--data <SPEC>',
      'data set: fashion-mnist[:DIR], mnist:DIR, cifar10:DIR, cifar100:DIR, or text:FILE for a language model',
    )
    // No commander defaults: images and text have different ones (calibrate.ts, families/lm/defaults.ts).
    .option(
      '--samples <N>',
      `calibration samples, first N of the train split (default ${CALIBRATION_DEFAULTS.samples}; text: ${SGLP_TEXT_DEFAULTS.samples} windows)`,
      intAtLeast(1),
    )
    .option(
      '--batch <B>',
      `samples per CKA batch (default ${CALIBRATION_DEFAULTS.batch}; text: ${SGLP_TEXT_DEFAULTS.batch} windows)`,
      intAtLeast(1),
    )
    .option('--seq-len <T>', `text: tokens per window (default: ${SGLP_TEXT_DEFAULTS.seqLen})`, intAtLeast(2))
    .option('--stream', 'text: run one decoder layer at a time, read from the checkpoint when needed')
    .option(
      '--stream-per-batch',
      'text: --stream once per CKA batch (re-reads the checkpoint; one batch of CKA state on the device)',
    )
    .option(
      '--memory-cap <BYTES>',
      'text: fail any allocation that takes device memory past BYTES',
      intAtLeast(1),
    )
    .addOption(precisionOption())
    .addOption(
      new Option('--estimator <E>', 'HSIC estimator')
        .choices([...ESTIMATORS])
        .default(CALIBRATION_DEFAULTS.estimator),
    )
    .option('--out <FILE>', 'also write the JSON to FILE (atomically)')
    .addOption(new Option('--json', 'print one JSON object on stdout'))
    .action(async (model: string, opts: CkaCliOptions) => {
      await ckaCommand(model, opts, { signal: commandSignal() });
    });
}
