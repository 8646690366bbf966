// `sglp cka MODEL --data SPEC [--samples N --batch B --estimator biased|unbiased] [--out FILE] [--json]`:
// the averaged CKA matrix of every pair of units on the calibration samples (docs/method.md §1, the stage
// `sglp prune` runs) → {units, matrix, rowSums, batches}, for either model family. Flags and data are
// checked here before the device; the model is loaded and its CKA computed by the library (src/api/
// `loadModel`, `cka`), as the page and Deno do. A language model takes text:FILE data and --seq-len,
// --precision f16, and --stream / --stream-per-batch (decoder layers read from the checkpoint one at a
// time: the same matrix, bit for bit, in far less device memory; the library's `loadModel(…, { stream })`)
// with --memory-cap (an allocation past BYTES is an error). `--out` writes the
// JSON atomically; without `--json`, stdout gets a short summary (cka-output.ts). Progress goes to stderr.

import { type Command, Option } from 'commander';
import { loadModel } from '../api/model.js';
import { type CkaCallOptions, cka } from '../api/run.js';
import { describeModel } from '../arch/describe.js';
import type { Gpu } from '../gpu/device.js';
import type { LlmConfig } from '../io/config.js';
import { parseDataSpec } from '../io/data-spec.js';
import type { ImageDataset } from '../io/dataset.js';
import { type TextWindows, textWindows } from '../io/text-data.js';
import { readTokenizer } from '../io/tokenizer.js';
import type { Precision } from '../nn/params.js';
import { loadImageDataset } from '../node/datasets.js';
import { acquireDevice } from '../node/device.js';
import { directorySource } from '../node/files.js';
import { readRunnableConfig } from '../node/model-dir.js';
import { commandSignal } from '../node/signals.js';
import { CALIBRATION_DEFAULTS } from '../sglp/calibrate.js';
import type { CkaResult, Estimator } from '../sglp/cka.js';
import { SGLP_TEXT_DEFAULTS } from '../sglp/families/lm/prune.js';
import { ESTIMATORS } from '../sglp/gram.js';
import { type CkaOutput, emit, outputOf } from './cka-output.js';
import { checkDatasetFits, checkMemoryCap, intAtLeast } from './common.js';
import { readTextFile } from './eval-text.js';
import { withFlagNames } from './flag-names.js';
import {
  checkPrecisionStream,
  checkPrecisionSupported,
  parsePrecision,
  precisionOption,
} from './precision.js';
import { preflightCka } from './preflight.js';
import { type CliIo, formatBytes, Progress, processIo } from './progress.js';
import { type PruneDeps, readLlmConfig } from './prune.js';

export type { CkaOutput } from './cka-output.js';

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

/** What was checked before the device: the data, the sizes, and how the run goes. */
interface CkaRun {
  readonly data: ImageDataset | TextWindows;
  readonly samples: number;
  readonly batch: number;
  readonly precision: Precision;
  /** Language models only: the memory cap, and the streamed path's settings. */
  readonly memoryCap?: number;
  readonly stream?: { readonly perBatch: boolean; readonly units: number };
  /** Language models only: the summary's line on the device memory the run peaked at. */
  readonly peakLine?: (peakBytes: number) => string;
}

/** `sglp cka`: the library's option errors reworded with the flags (flag-names.ts). */
export function ckaCommand(model: string, opts: CkaCliOptions, deps: PruneDeps = {}): Promise<CkaOutput> {
  return withFlagNames(() => runCka(model, opts, deps));
}

async function runCka(model: string, opts: CkaCliOptions, deps: PruneDeps): Promise<CkaOutput> {
  const io = deps.io ?? processIo;
  const estimator = (opts.estimator ?? CALIBRATION_DEFAULTS.estimator) as Estimator;
  if (!ESTIMATORS.includes(estimator)) {
    throw new Error(`--estimator must be one of ${ESTIMATORS.join(', ')}, got "${opts.estimator}"`);
  }
  parseDataSpec(opts.data); // a bad spec fails before anything slow
  const llm = await readLlmConfig(model);
  const run = llm ? await textRun(model, llm.config, opts, io) : await imageRun(model, opts, io);
  const cap = run.memoryCap;
  const gpu = deps.gpu ?? (await acquireDevice(cap === undefined ? {} : { memoryCap: cap }));
  const capBefore = gpu.pool.memoryCap;
  if (deps.gpu && cap !== undefined) gpu.pool.memoryCap = cap;
  const batches = Math.ceil(run.samples / run.batch);
  const total = run.stream ? run.stream.units * (run.stream.perBatch ? batches : 1) : batches;
  const label = run.stream
    ? 'decoder layers (streamed)'
    : llm
      ? 'calibration + CKA'
      : 'calibration features + CKA';
  const progress = new Progress(io, label, total);
  // The peak is this run's (loading included), then folded back into the pool's running peak.
  const peakBefore = gpu.pool.peakBytes;
  gpu.pool.resetPeak();
  let result: CkaResult;
  let peakBytes: number;
  try {
    const signal = deps.signal;
    result = await libraryCka(gpu, model, run, {
      samples: run.samples,
      batch: run.batch,
      estimator,
      onProgress: (p) => progress.update(p.done),
      ...(signal ? { signal } : {}),
    });
    peakBytes = gpu.pool.peakBytes;
  } finally {
    progress.stop();
    gpu.pool.peakBytes = Math.max(peakBefore, gpu.pool.peakBytes);
    if (deps.gpu) gpu.pool.memoryCap = capBefore;
    else gpu.destroy();
  }
  const extra = run.peakLine ? [run.peakLine(peakBytes)] : [];
  return emit(model, outputOf(result, run.samples), opts, io, extra);
}

/** An image classifier: the language-model flags refused, then the data set checked against the model. */
async function imageRun(model: string, opts: CkaCliOptions, io: CliIo): Promise<CkaRun> {
  for (const [flag, set] of [
    ['--stream', opts.stream],
    ['--stream-per-batch', opts.streamPerBatch],
    ['--memory-cap', opts.memoryCap !== undefined],
    ['--seq-len', opts.seqLen !== undefined],
    [`--precision ${opts.precision}`, opts.precision !== undefined && opts.precision !== 'f32'],
  ] as const) {
    if (set) throw new Error(`${flag} applies to language models only; ${model} is not one`);
  }
  // Batch against samples and --out FILE, before the device (preflight.ts).
  const notes = await preflightCka(opts, CALIBRATION_DEFAULTS, { what: 'samples', model });
  for (const note of notes) io.stderr(`note: ${note}\n`);
  const samples = opts.samples ?? CALIBRATION_DEFAULTS.samples;
  const batch = opts.batch ?? CALIBRATION_DEFAULTS.batch;
  const config = await readRunnableConfig(model);
  const train = await loadImageDataset(opts.data, 'train');
  checkDatasetFits(train, config, model);
  if (samples > train.n) throw new Error(`--samples ${samples}: ${train.name} has only ${train.n} samples`);
  return { data: train, samples, batch, precision: 'f32' };
}

/** A language model: text:FILE data, --seq-len, --precision and the streaming flags, checked. */
async function textRun(model: string, config: LlmConfig, opts: CkaCliOptions, io: CliIo): Promise<CkaRun> {
  const spec = parseDataSpec(opts.data);
  if (spec.kind !== 'text') {
    throw new Error(
      `${model} is a language model (${config.architecture}): --data must be text:FILE, got "${opts.data}"`,
    );
  }
  const precision = parsePrecision(opts.precision);
  checkPrecisionStream(
    precision,
    opts.streamPerBatch ? '--stream-per-batch' : opts.stream ? '--stream' : undefined,
  );
  // Batch against samples, --seq-len against the model and --out FILE, before the device (preflight.ts).
  const notes = await preflightCka(opts, SGLP_TEXT_DEFAULTS, {
    what: 'windows',
    model,
    maxPositions: config.max_position_embeddings,
  });
  for (const note of notes) io.stderr(`note: ${note}\n`);
  const seqLen = opts.seqLen ?? SGLP_TEXT_DEFAULTS.seqLen;
  const tokenizer = await readTokenizer(directorySource(model));
  const ids = tokenizer.encode(await readTextFile(spec.file));
  const data = textWindows(ids, 'train', seqLen, { name: spec.file });
  checkMemoryCap(opts.memoryCap);
  const stream = opts.stream || opts.streamPerBatch;
  const suffix = stream ? ' (layer streaming)' : '';
  return {
    data,
    samples: opts.samples ?? SGLP_TEXT_DEFAULTS.samples,
    batch: opts.batch ?? SGLP_TEXT_DEFAULTS.batch,
    precision,
    ...(opts.memoryCap === undefined ? {} : { memoryCap: opts.memoryCap }),
    ...(stream
      ? { stream: { perBatch: opts.streamPerBatch ?? false, units: describeModel(config).units.length } }
      : {}),
    peakLine: (peak) => `peak device memory: ${formatBytes(peak)} (${peak} bytes)${suffix}`,
  };
}

/**
 * The model loaded on the device (or, with --stream, opened: its decoder layers read from the checkpoint
 * one at a time, once or once per CKA batch) and its CKA computed by the library (src/api/).
 */
async function libraryCka(gpu: Gpu, model: string, run: CkaRun, options: CkaCallOptions): Promise<CkaResult> {
  checkPrecisionSupported(gpu, run.precision);
  const source = directorySource(model);
  const loaded = run.stream
    ? await loadModel(gpu, source, { stream: { perBatch: run.stream.perBatch } })
    : await loadModel(gpu, source, { precision: run.precision });
  try {
    return await cka(loaded, run.data, options);
  } finally {
    await loaded.dispose();
  }
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
