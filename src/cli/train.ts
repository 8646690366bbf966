// `sglp train --arch cifar-resnet|vgg|resnet --depth N --data SPEC --epochs E --out DIR`: trains a base model
// (CIFAR ResNet, CIFAR VGG-BN or torchvision ResNet, all through createClassifier) from PyTorch's default
// initialisation with SGD (momentum, weight decay) and a per-step cosine learning rate, seeded shuffling and
// crop + flip augmentation. After every epoch it evaluates on the test split and writes one checkpoint as a
// unit (src/node/train-run-dir.ts: staged, then moved into place): DIR/optimizer.safetensors (momentum buffers),
// DIR/model.safetensors, DIR/config.json and DIR/train-state.json. `--resume` continues from the last completed
// epoch and gives bit-identical files to an uninterrupted run: every random stream is derived from
// (seed, epoch), so nothing but the weights, BN statistics and momentum buffers needs saving. The epoch loop
// itself is src/train/loop.ts (shared with fine-tuning after pruning).

import { describeModel } from '../arch/describe.js';
import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import { batchCount, type Normalize } from '../io/batches.js';
import { type CnnConfig, KNOWN_ARCHITECTURES, validateModelConfig } from '../io/config.js';
import { parseDataSpec } from '../io/data-spec.js';
import { type ImageDataset, imageDataset } from '../io/dataset.js';
import { Rng } from '../io/prng.js';
import { openSafetensors } from '../io/safetensors.js';
import type { TensorToWrite } from '../io/safetensors-write.js';
import { type ClassifierModel, createClassifier } from '../nn/model.js';
import { ParamStore } from '../nn/params.js';
import { loadImageDataset } from '../node/datasets.js';
import { acquireDevice } from '../node/device.js';
import { openFileSource, pathIn } from '../node/files.js';
import {
  checkCheckpointEpochs,
  createRunDir,
  MODEL_FILE,
  modelTensors,
  OPTIMIZER_FILE,
  openRunDir,
  writeCheckpoint,
} from '../node/train-run-dir.js';
import { runEpochs } from '../train/loop.js';
import { Optimizer } from '../train/optimizer.js';
import { checkDatasetFits } from './common.js';
import { evaluateOn, loadModel } from './eval.js';
import { type CliIo, Progress, processIo } from './progress.js';

export interface TrainOptions {
  readonly arch: string;
  readonly depth?: number;
  readonly inChannels?: number;
  readonly numClasses?: number;
  /** cifar-resnet only. */
  readonly shortcut?: string;
  /** Residual blocks per stage, 3 counts (cifar-resnet) or 4 (resnet): a smaller model than `depth` gives. */
  readonly blocks?: string;
  /** vgg only: conv widths and 'M' pools, like 8,M,16,M,... (a smaller model than `depth` gives). */
  readonly layers?: string;
  readonly data: string;
  readonly epochs: number;
  readonly out: string;
  readonly batch?: number;
  readonly lr?: number;
  readonly momentum?: number;
  readonly weightDecay?: number;
  readonly seed?: number;
  readonly augment?: boolean;
  readonly resume?: boolean;
  readonly limit?: number;
  readonly json?: boolean;
}

export interface TrainDeps {
  readonly io?: CliIo;
  readonly gpu?: Gpu;
  /** Stops training at the next step; the last completed epoch's checkpoint stays (--resume). */
  readonly signal?: AbortSignal;
}

export const TRAIN_DEFAULTS = {
  /** cifar-resnet's; see DEFAULT_DEPTH for the others. */
  depth: 56,
  shortcut: 'A',
  batch: 128,
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 5e-4,
  seed: 0,
} as const;

/** The CNNs this command trains (llama is src/cli/train-lm.ts) and their default depths. */
export const TRAINABLE_ARCHITECTURES = ['cifar-resnet', 'vgg', 'resnet'] as const;
type TrainableArch = (typeof TRAINABLE_ARCHITECTURES)[number];
export const DEFAULT_DEPTH: Record<TrainableArch, number> = {
  'cifar-resnet': TRAIN_DEFAULTS.depth,
  vgg: 16,
  resnet: 18,
};

/** Random stream for the initial weights (batches.ts uses streams 1 and 2 per epoch). */
const INIT_STREAM = 3;

/** Every setting that changes the result; a resumed run must repeat them exactly. */
export interface RunSettings {
  readonly arch: string;
  readonly depth: number;
  /** cifar-resnet only (absent for the others, so cifar-resnet's train-state.json is as before). */
  readonly shortcut?: string;
  /** cifar-resnet and resnet. */
  readonly blocks?: number[] | null;
  /** vgg only. */
  readonly layers?: (number | 'M')[] | null;
  readonly inChannels: number;
  readonly numClasses: number;
  readonly data: string;
  readonly limit: number | null;
  readonly epochs: number;
  readonly batch: number;
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly seed: number;
  readonly augment: boolean;
}

export interface EpochRecord {
  readonly epoch: number;
  readonly trainLoss: number;
  readonly accuracy: number;
  readonly loss: number;
  readonly samples: number;
  readonly lr: number;
  readonly seconds: number;
  readonly imagesPerSecond: number;
}

export interface TrainState {
  readonly version: 1;
  readonly completedEpochs: number;
  readonly step: number;
  readonly stepsPerEpoch: number;
  readonly settings: RunSettings;
  readonly history: EpochRecord[];
}

export interface TrainResult {
  readonly out: string;
  readonly epochs: number;
  readonly completedEpochs: number;
  /** Test metrics after the last epoch. */
  readonly accuracy: number;
  readonly loss: number;
  readonly samples: number;
  readonly trainLoss: number;
  readonly history: EpochRecord[];
}

/**
 * Per-channel mean and (population) std of pixel/255 over the training images used, rounded to 4 decimals
 * as config.json stores them (Fashion-MNIST's full train split gives 0.286 / 0.353).
 */
export function datasetNormalize(ds: ImageDataset): Normalize {
  const plane = ds.h * ds.w;
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < ds.c; c++) {
    const hist = new Float64Array(256);
    for (let i = 0; i < ds.n; i++) {
      const img = ds.images.subarray((i * ds.c + c) * plane, (i * ds.c + c + 1) * plane);
      for (let p = 0; p < plane; p++) hist[img[p]]++;
    }
    let count = 0;
    let s = 0;
    for (let v = 0; v < 256; v++) {
      count += hist[v];
      s += hist[v] * (v / 255);
    }
    const m = s / count;
    let sq = 0;
    for (let v = 0; v < 256; v++) sq += hist[v] * (v / 255 - m) ** 2;
    const round = (x: number) => Math.round(x * 1e4) / 1e4;
    mean.push(round(m));
    const sd = round(Math.sqrt(sq / count));
    std.push(sd > 0 ? sd : 1);
  }
  return { mean, std };
}

/** The first n images of a data set. */
function firstImages(ds: ImageDataset, n: number | undefined): ImageDataset {
  if (n === undefined || n >= ds.n) return ds;
  const per = ds.c * ds.h * ds.w;
  return imageDataset({
    ...ds,
    name: `${ds.name} (first ${n})`,
    n,
    images: ds.images.subarray(0, n * per),
    labels: ds.labels.subarray(0, n),
  });
}

function parseBlocks(text: string | undefined, arch: TrainableArch): number[] | null {
  if (text === undefined) return null;
  const [n, example] = arch === 'resnet' ? [4, 'four counts like 1,1,1,1'] : [3, 'three counts like 1,1,1'];
  const parts = text.split(',').map((s) => s.trim());
  const blocks = parts.map(Number);
  if (parts.length !== n || blocks.some((b, i) => parts[i] === '' || !Number.isSafeInteger(b) || b < 0)) {
    throw new Error(`--blocks must be ${example} (one per stage of ${arch}), got "${text}"`);
  }
  return blocks;
}

function parseLayers(text: string | undefined): (number | 'M')[] | null {
  if (text === undefined) return null;
  const parts = text.split(',').map((s) => s.trim());
  const bad = parts.find(
    (p) => p !== 'M' && !(/^\d+$/.test(p) && Number(p) >= 1 && Number.isSafeInteger(Number(p))),
  );
  if (bad !== undefined) {
    throw new Error(
      `--layers must list conv widths and M pools like 8,M,16,M,32,M,32,M,32,M; "${bad}" in "${text}" is neither`,
    );
  }
  return parts.map((p) => (p === 'M' ? 'M' : Number(p)));
}

function checkArchitecture(arch: string): asserts arch is TrainableArch {
  const trainable: readonly string[] = TRAINABLE_ARCHITECTURES;
  if (trainable.includes(arch)) return;
  const supported = `${TRAINABLE_ARCHITECTURES.join(', ')}; llama trains through \`sglp train --arch llama\``;
  if (KNOWN_ARCHITECTURES.includes(arch)) {
    throw new Error(
      `--arch ${arch}: training architecture "${arch}" is not supported here (supported: ${supported})`,
    );
  }
  throw new Error(
    `--arch: unknown architecture "${arch}" (known: ${KNOWN_ARCHITECTURES.join(', ')}; trainable: ${supported})`,
  );
}

/** Flags that only some architectures take: naming the wrong one fails before any data is read. */
function checkArchFlags(opts: TrainOptions, arch: TrainableArch): void {
  if (opts.shortcut !== undefined && arch !== 'cifar-resnet') {
    throw new Error(`--shortcut: only for --arch cifar-resnet (got --arch ${arch})`);
  }
  if (opts.layers !== undefined && arch !== 'vgg') {
    throw new Error(
      `--layers: only for --arch vgg here (got --arch ${arch}; use --blocks for residual stages)`,
    );
  }
  if (opts.blocks !== undefined && arch === 'vgg') {
    throw new Error(
      '--blocks: only for --arch cifar-resnet and resnet (a smaller vgg is --layers 8,M,16,M,...)',
    );
  }
}

/** The settings a run uses, from the flags and the training data. */
function runSettings(opts: TrainOptions, train: ImageDataset): RunSettings {
  if (!(Number.isSafeInteger(opts.epochs) && opts.epochs >= 1)) {
    throw new Error(`--epochs must be an integer >= 1, got ${opts.epochs}`);
  }
  const inChannels = opts.inChannels ?? train.c;
  if (inChannels !== train.c) {
    throw new Error(`--in-channels ${inChannels}, but ${train.name} has ${train.c}-channel images`);
  }
  const numClasses = opts.numClasses ?? train.classes;
  if (numClasses < train.classes) {
    throw new Error(`--num-classes ${numClasses}, but ${train.name} has ${train.classes} classes`);
  }
  const arch = opts.arch as TrainableArch;
  // Key order is the train-state.json order; cifar-resnet's keys are as they always were.
  return {
    arch,
    depth: opts.depth ?? DEFAULT_DEPTH[arch],
    ...(arch === 'cifar-resnet' ? { shortcut: opts.shortcut ?? TRAIN_DEFAULTS.shortcut } : {}),
    ...(arch === 'vgg' ? { layers: parseLayers(opts.layers) } : { blocks: parseBlocks(opts.blocks, arch) }),
    inChannels,
    numClasses,
    data: opts.data,
    limit: opts.limit ?? null,
    epochs: opts.epochs,
    batch: opts.batch ?? TRAIN_DEFAULTS.batch,
    lr: opts.lr ?? TRAIN_DEFAULTS.lr,
    momentum: opts.momentum ?? TRAIN_DEFAULTS.momentum,
    weightDecay: opts.weightDecay ?? TRAIN_DEFAULTS.weightDecay,
    seed: opts.seed ?? TRAIN_DEFAULTS.seed,
    augment: opts.augment ?? true,
  };
}

const FLAG_OF: Record<keyof RunSettings, string> = {
  arch: '--arch',
  depth: '--depth',
  shortcut: '--shortcut',
  blocks: '--blocks',
  layers: '--layers',
  inChannels: '--in-channels',
  numClasses: '--num-classes',
  data: '--data',
  limit: '--limit',
  epochs: '--epochs',
  batch: '--batch',
  lr: '--lr',
  momentum: '--momentum',
  weightDecay: '--weight-decay',
  seed: '--seed',
  augment: '--augment/--no-augment',
};

function checkState(state: unknown, file: string): TrainState {
  const st = state as TrainState | null;
  if (st?.version !== 1 || !Number.isSafeInteger(st.completedEpochs) || !st.settings) {
    throw new Error(`${file}: not a train state this version of sglp wrote (version 1)`);
  }
  return st;
}

async function saveCheckpoint(
  gpu: Gpu,
  out: string,
  desc: ModelDescription,
  params: ParamStore,
  opt: Optimizer,
  configJson: object,
  state: TrainState,
): Promise<void> {
  const optimizer: Record<string, TensorToWrite> = {};
  for (const key of params.trainableKeys()) {
    const p = params.get(key);
    const [buf] = opt.stateFor(p);
    optimizer[key] = { dtype: 'F32', shape: p.shape, data: async () => gpu.readF32(buf) };
  }
  const model = modelTensors(gpu, desc, params);
  // PyTorch's BN counter (int64 scalar): one per training step, so torch's load_state_dict(strict) accepts it.
  for (const key of desc.ignoredKeys) {
    model[key] = { dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(state.step)) };
  }
  await writeCheckpoint(out, state.completedEpochs, {
    optimizer,
    optimizerMeta: { kind: 'sgd momentum_buffer', step: String(state.step) },
    model,
    config: configJson,
    state,
  });
}

async function restoreMomentum(gpu: Gpu, out: string, params: ParamStore, opt: Optimizer): Promise<void> {
  const path = pathIn(out, OPTIMIZER_FILE);
  const src = await openFileSource(path);
  try {
    const st = await openSafetensors(src);
    for (const key of params.trainableKeys()) {
      const p = params.get(key);
      opt.restore(p, [gpu.tensor(await st.float32(key, p.shape), p.shape)]);
    }
  } finally {
    await src.close?.();
  }
}

export async function trainCommand(opts: TrainOptions, deps: TrainDeps = {}): Promise<TrainResult> {
  const io = deps.io ?? processIo;
  checkArchitecture(opts.arch);
  checkArchFlags(opts, opts.arch);
  parseBlocks(opts.blocks, opts.arch);
  parseLayers(opts.layers);
  parseDataSpec(opts.data);
  if (opts.limit !== undefined && opts.limit < 1) throw new Error('--limit must be at least 1');
  const out = opts.out;

  // Look at --out before the (slow) data loading so a wrong directory fails at once.
  const previous = await openRunDir(out, !!opts.resume, checkState, (l) => io.stderr(`note: ${l}\n`));

  const train = firstImages(await loadImageDataset(opts.data, 'train'), opts.limit);
  const test = await loadImageDataset(opts.data, 'test');
  const settings = runSettings(opts, train);
  if (previous) {
    const differ = (Object.keys(FLAG_OF) as (keyof RunSettings)[]).filter(
      (k) => JSON.stringify(previous.settings[k]) !== JSON.stringify(settings[k]),
    );
    if (differ.length > 0) {
      throw new Error(
        `--resume: the run in ${out} used other settings: ${differ
          .map(
            (k) =>
              `${FLAG_OF[k]} ${JSON.stringify(previous.settings[k])} (now ${JSON.stringify(settings[k])})`,
          )
          .join(', ')}; repeat the original flags`,
      );
    }
  }
  const configJson = {
    architecture: settings.arch,
    depth: settings.depth,
    ...(settings.shortcut !== undefined ? { shortcut: settings.shortcut } : {}),
    ...(settings.blocks ? { blocks: settings.blocks } : {}),
    ...(settings.arch === 'vgg' ? { batch_norm: true } : {}),
    ...(settings.layers ? { layers: settings.layers } : {}),
    in_channels: settings.inChannels,
    num_classes: settings.numClasses,
    input_size: [train.c, train.h, train.w],
    normalize: datasetNormalize(train),
  };
  const config = validateModelConfig(
    configJson,
    'the model flags (--arch, --depth, --shortcut, --blocks, --layers, ...)',
  ) as CnnConfig;
  checkDatasetFits(test, config, 'the model');
  const desc = describeModel(config);
  const stepsPerEpoch = batchCount(train, { batchSize: settings.batch, normalize: config.normalize });
  await createRunDir(out);

  const gpu = deps.gpu ?? (await acquireDevice());
  let params: ParamStore | undefined;
  let net: ClassifierModel | undefined;
  const opt = new Optimizer(gpu, {
    kind: 'sgd',
    momentum: settings.momentum,
    weightDecay: settings.weightDecay,
  });
  try {
    let startEpoch = 0;
    let history: EpochRecord[] = [];
    if (previous) {
      await checkCheckpointEpochs(out, [MODEL_FILE, OPTIMIZER_FILE], previous.completedEpochs);
      ({ params, net } = await loadModel(gpu, out, config));
      await restoreMomentum(gpu, out, params, opt);
      startEpoch = previous.completedEpochs;
      history = [...previous.history];
      io.stderr(`resuming ${out} after epoch ${startEpoch}/${settings.epochs}\n`);
    } else {
      const initRng = Rng.derive(settings.seed, 0, INIT_STREAM);
      params = ParamStore.init(gpu, desc, () => initRng.float());
      net = createClassifier(gpu, desc, params);
    }
    // Between epochs: test metrics, the checkpoint, then the summary line (a crash test hooks that line).
    let bar: Progress | undefined;
    const stopBar = () => {
      bar?.stop();
      bar = undefined;
    };
    const model = net;
    const store = params;
    try {
      await runEpochs(gpu, model, store, opt, train, {
        epochs: settings.epochs,
        startEpoch,
        batchSize: settings.batch,
        lr: settings.lr,
        schedule: 'cosine',
        normalize: config.normalize,
        seed: settings.seed,
        augment: settings.augment,
        lrName: '--lr',
        signal: deps.signal,
        onProgress: (p) => {
          if (p.type === 'epoch-start') {
            stopBar();
            bar = new Progress(io, `epoch ${p.epoch}/${p.epochs}`, p.steps);
          } else bar?.update(p.step, { rate: p.rate, loss: p.loss });
        },
        onEpoch: async (r) => {
          stopBar();
          const label = `epoch ${r.epoch}/${settings.epochs}`;
          const metrics = await evaluateOn(gpu, model, config, test, {
            batch: settings.batch,
            limit: settings.limit ?? undefined,
            label: `${label} test`,
            io,
          });
          const record: EpochRecord = {
            epoch: r.epoch,
            trainLoss: r.trainLoss,
            accuracy: metrics.accuracy,
            loss: metrics.loss,
            samples: metrics.samples,
            lr: r.lr,
            seconds: r.seconds,
            imagesPerSecond: r.imagesPerSecond,
          };
          history.push(record);
          await saveCheckpoint(gpu, out, desc, store, opt, configJson, {
            version: 1,
            completedEpochs: r.epoch,
            step: r.epoch * stepsPerEpoch,
            stepsPerEpoch,
            settings,
            history,
          });
          io.stderr(
            `${label}: train loss ${record.trainLoss.toFixed(4)} (${record.imagesPerSecond.toFixed(1)} img/s)  ` +
              `test accuracy ${(100 * record.accuracy).toFixed(2)}% loss ${record.loss.toFixed(4)}  saved ${out}\n`,
          );
        },
      });
    } finally {
      stopBar();
    }
    const last = history.at(-1);
    if (!last) throw new Error('internal: no epoch was trained');
    const result: TrainResult = {
      out,
      epochs: settings.epochs,
      completedEpochs: history.length,
      accuracy: last.accuracy,
      loss: last.loss,
      samples: last.samples,
      trainLoss: last.trainLoss,
      history,
    };
    if (opts.json) io.stdout(`${JSON.stringify(result)}\n`);
    else {
      io.stdout(
        `trained ${desc.name} for ${settings.epochs} epochs → ${out}: test accuracy ` +
          `${(100 * last.accuracy).toFixed(2)}%  loss ${last.loss.toFixed(4)}  (${last.samples} samples)\n`,
      );
    }
    return result;
  } finally {
    net?.unfreeze();
    opt.dispose();
    params?.dispose();
    if (!deps.gpu) gpu.destroy();
  }
}
