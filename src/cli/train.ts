// `sglp train --arch cifar-resnet|vgg|resnet --depth N --data SPEC --epochs E --out DIR`: trains a base
// image classifier through the library's `train` (src/api/train.ts; the run management, resume and the
// checkpoints are src/train/run/, the files src/node/train-run-dir.ts's runDirectory). This file maps the
// flags to the library's options, its errors' option names to the flags, and its progress to stderr;
// `--arch llama` is train-lm.ts's, through the same runTrainCommand.

import {
  type EpochRecord,
  type ImageTrainOptions,
  type ImageTrainResult,
  type Naming,
  type TrainCallOptions,
  type TrainProgress,
  train,
} from '../api/train.js';
import type { Gpu } from '../gpu/device.js';
import { parseDataSpec } from '../io/data-spec.js';
import { loadImageDataset } from '../node/datasets.js';
import { acquireDevice } from '../node/device.js';
import { runDirectory } from '../node/train-run-dir.js';
import { type CliIo, Progress, processIo } from './progress.js';

export type { EpochRecord, RunSettings } from '../api/train.js';
export { DEFAULT_DEPTH, TRAIN_DEFAULTS, TRAINABLE_ARCHITECTURES } from '../api/train.js';

/** The flags of `sglp train` for an image classifier: the library's options, the data spec and --out. */
export interface TrainOptions extends ImageTrainOptions {
  /** --blocks as given (cifar-resnet: 3 counts, resnet: 4). */
  readonly blocks?: string;
  /** --layers as given (vgg: conv widths and M pools). */
  readonly layers?: string;
  /** A --data spec: fashion-mnist[:DIR], mnist:DIR, cifar10:DIR, ... */
  readonly data: string;
  readonly out: string;
  readonly resume?: boolean;
  readonly json?: boolean;
}

export interface TrainDeps {
  readonly io?: CliIo;
  readonly gpu?: Gpu;
  /** Stops training at the next step; the last completed epoch's checkpoint stays (--resume). */
  readonly signal?: AbortSignal;
}

export type TrainResult = { readonly out: string } & ImageTrainResult;

/** The library's option fields as `sglp train` calls them: `weightDecay` is `--weight-decay`. */
export const FLAG_NAMES: Naming = {
  of: (field) =>
    field === 'augment'
      ? '--augment/--no-augment'
      : `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
  kind: 'flags',
};

/** How a command prints a run: the line before the first epoch (if any) and the line after each. */
export interface RunPrinter<R> {
  /** The line about the model and data before the first epoch, or undefined for none. */
  readonly start: (p: Extract<TrainProgress, { type: 'start' }>) => string | undefined;
  readonly epoch: (record: R, label: string) => string;
}

/**
 * Runs `call` (the library's train) with the command's progress on stderr: a bar per epoch and per test
 * evaluation, a line after each epoch's checkpoint, notes about an interrupted run's files.
 */
export async function runTrainCommand<Res, R extends { readonly epoch: number }>(
  out: string,
  resume: boolean | undefined,
  deps: TrainDeps,
  printer: RunPrinter<R>,
  call: (gpu: () => Promise<Gpu>, options: TrainCallOptions<R>) => Promise<Res>,
): Promise<Res> {
  const io = deps.io ?? processIo;
  let acquired: Gpu | undefined;
  const device = async () => {
    if (deps.gpu) return deps.gpu;
    acquired = await acquireDevice();
    return acquired;
  };
  let bar: Progress | undefined;
  const stopBar = () => {
    bar?.stop();
    bar = undefined;
  };
  const onProgress = (p: TrainProgress<R>) => {
    if (p.type === 'note') io.stderr(`note: ${p.text}\n`);
    else if (p.type === 'resume') io.stderr(`resuming ${out} after epoch ${p.after}/${p.epochs}\n`);
    else if (p.type === 'start') {
      const line = printer.start(p);
      if (line !== undefined) io.stderr(`${line}\n`);
    } else if (p.type === 'epoch-start' || p.type === 'eval-start') {
      stopBar();
      const label = `epoch ${p.epoch}/${p.epochs}${p.type === 'eval-start' ? ' test' : ''}`;
      bar = new Progress(io, label, p.steps, 'batches', p.rateUnit);
    } else if (p.type === 'step' || p.type === 'eval') bar?.update(p.step, { rate: p.rate, loss: p.loss });
    else if (p.type === 'eval-end') stopBar();
    else if (p.type === 'epoch') {
      const label = `epoch ${p.record.epoch}/${p.epochs}`;
      io.stderr(`${printer.epoch(p.record, label)}  saved ${out}\n`);
    }
  };
  try {
    return await call(device, {
      store: runDirectory(out),
      resume,
      naming: FLAG_NAMES,
      onProgress,
      signal: deps.signal,
    });
  } finally {
    stopBar();
    acquired?.destroy();
  }
}

export async function trainCommand(opts: TrainOptions, deps: TrainDeps = {}): Promise<TrainResult> {
  const io = deps.io ?? processIo;
  const { data: spec, out, resume, json, ...options } = opts;
  parseDataSpec(spec);
  const data = async () => ({
    name: spec,
    train: await loadImageDataset(spec, 'train'),
    test: await loadImageDataset(spec, 'test'),
  });
  let model = opts.arch;
  const printer: RunPrinter<EpochRecord> = {
    start: (p) => {
      model = p.model;
      return undefined;
    },
    epoch: (r, label) =>
      `${label}: train loss ${r.trainLoss.toFixed(4)} (${r.imagesPerSecond.toFixed(1)} img/s)  ` +
      `test accuracy ${(100 * r.accuracy).toFixed(2)}% loss ${r.loss.toFixed(4)}`,
  };
  const trained = await runTrainCommand(out, resume, deps, printer, (gpu, call) =>
    train(gpu, { ...options, data }, call),
  );
  const result: TrainResult = { out, ...trained };
  if (json) io.stdout(`${JSON.stringify(result)}\n`);
  else {
    const last = trained.history[trained.history.length - 1];
    io.stdout(
      `trained ${model} for ${trained.epochs} epochs → ${out}: test accuracy ` +
        `${(100 * last.accuracy).toFixed(2)}%  loss ${last.loss.toFixed(4)}  (${last.samples} samples)\n`,
    );
  }
  return result;
}
