// The image classifier's part of a training run (manager.ts): a CIFAR ResNet, CIFAR VGG-BN or torchvision
// ResNet (all through createClassifier) from PyTorch's default initialisation, trained with SGD (momentum,
// weight decay) and a per-step cosine learning rate on seeded shuffles with crop + flip augmentation
// (loop.ts), evaluated on the test split after every epoch. The checkpoint holds the momentum buffers and
// PyTorch's BN counters (one per step, so torch's strict load_state_dict accepts the model).

import { describeModel } from '../../arch/describe.js';
import { type ClassifierMetrics, evaluateClassifier } from '../../eval/classify.js';
import { batchCount, imageBatches } from '../../io/batches.js';
import { type CnnConfig, validateModelConfig } from '../../io/config.js';
import { type ImageDataset, imageDataset } from '../../io/dataset.js';
import { Rng } from '../../io/prng.js';
import type { TensorToWrite } from '../../io/safetensors-write.js';
import { createClassifier } from '../../nn/model.js';
import { ParamStore } from '../../nn/params.js';
import { runEpochs } from '../loop.js';
import { Optimizer } from '../optimizer.js';
import {
  checkImageOptions,
  datasetNormalize,
  type ImageTrainData,
  type ImageTrainOptions,
  imageSettings,
  type RunSettings,
} from './image-settings.js';
import { modelTensors, type TrainerFamily, type TrainPlan, type TrainState } from './manager.js';
import type { Naming } from './naming.js';

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

export interface ImageTrainResult {
  readonly epochs: number;
  readonly completedEpochs: number;
  /** Test metrics after the last epoch. */
  readonly accuracy: number;
  readonly loss: number;
  readonly samples: number;
  readonly trainLoss: number;
  readonly history: EpochRecord[];
}

/** Random stream for the initial weights (batches.ts uses streams 1 and 2 per epoch). */
const INIT_STREAM = 3;

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

/** The test images must be what the model takes. */
function checkFits(ds: ImageDataset, config: CnnConfig): void {
  const [c, h, w] = config.input_size;
  if (ds.c !== c || ds.h !== h || ds.w !== w) {
    throw new Error(
      `${ds.name} has ${ds.c}x${ds.h}x${ds.w} images but the model takes input_size [${c}, ${h}, ${w}]`,
    );
  }
  if (ds.classes > config.num_classes) {
    throw new Error(
      `${ds.name} has ${ds.classes} classes but the model has num_classes ${config.num_classes}`,
    );
  }
}

function configJsonOf(s: RunSettings, train: ImageDataset): Record<string, unknown> {
  return {
    architecture: s.arch,
    depth: s.depth,
    ...(s.shortcut !== undefined ? { shortcut: s.shortcut } : {}),
    ...(s.blocks ? { blocks: s.blocks } : {}),
    ...(s.arch === 'vgg' ? { batch_norm: true } : {}),
    ...(s.layers ? { layers: s.layers } : {}),
    in_channels: s.inChannels,
    num_classes: s.numClasses,
    input_size: [train.c, train.h, train.w],
    normalize: datasetNormalize(train),
  };
}

function imagePlan(s: RunSettings, data: ImageTrainData, naming: Naming): TrainPlan<EpochRecord> {
  const { train, test } = data;
  const configJson = configJsonOf(s, train);
  const names = ['arch', 'depth', 'shortcut', 'blocks', 'layers'].map(naming.of).join(', ');
  const config = validateModelConfig(configJson, `the model ${naming.kind} (${names}, ...)`) as CnnConfig;
  checkFits(test, config);
  const desc = describeModel(config);
  const { normalize } = config;
  const stepsPerEpoch = batchCount(train, { batchSize: s.batch, normalize });
  const start: TrainPlan<EpochRecord>['start'] = async (gpu, restore) => {
    const opt = new Optimizer(gpu, { kind: 'sgd', momentum: s.momentum, weightDecay: s.weightDecay });
    let params: ParamStore | undefined;
    try {
      if (restore) {
        params = await ParamStore.load(gpu, desc, restore.model);
        for (const key of params.trainableKeys()) {
          const p = params.get(key);
          opt.restore(p, [gpu.tensor(await restore.optimizer.float32(key, p.shape), p.shape)]);
        }
      } else {
        const initRng = Rng.derive(s.seed, 0, INIT_STREAM);
        params = ParamStore.init(gpu, desc, () => initRng.float());
      }
    } catch (e) {
      params?.dispose();
      opt.dispose();
      throw e;
    }
    const store = params;
    const net = createClassifier(gpu, desc, store);
    const evalOptions = { batchSize: s.batch, normalize, limit: s.limit ?? undefined };
    return {
      async run(startEpoch, hooks) {
        const emit = (p: Parameters<NonNullable<typeof hooks.onProgress>>[0]) => hooks.onProgress?.(p);
        emit({ type: 'start', model: desc.name, params: desc.paramCount, samples: train.n, stepsPerEpoch });
        await runEpochs(gpu, net, store, opt, train, {
          epochs: s.epochs,
          startEpoch,
          batchSize: s.batch,
          lr: s.lr,
          schedule: 'cosine',
          normalize,
          seed: s.seed,
          augment: s.augment,
          lrName: naming.of('lr'),
          signal: hooks.signal,
          onProgress: (p) =>
            p.type === 'epoch-start'
              ? emit({ ...p, rateUnit: 'img/s' })
              : emit({ type: 'step', epoch: p.epoch, step: p.step, loss: p.loss, rate: p.rate }),
          onEpoch: async (r) => {
            const epoch = r.epoch;
            emit({
              type: 'eval-start',
              epoch,
              epochs: s.epochs,
              steps: batchCount(test, evalOptions),
              rateUnit: 'img/s',
            });
            const t0 = performance.now();
            let m: ClassifierMetrics;
            try {
              await net.freezeForEval();
              m = await evaluateClassifier(gpu, net, labelled(test, evalOptions), {
                onProgress: (p) =>
                  emit({
                    type: 'eval',
                    epoch,
                    step: p.batches,
                    loss: p.loss,
                    rate: p.samples / ((performance.now() - t0) / 1000),
                  }),
              });
            } finally {
              emit({ type: 'eval-end', epoch });
            }
            const { trainLoss, lr, seconds, imagesPerSecond } = r;
            await hooks.onEpoch({
              epoch,
              trainLoss,
              accuracy: m.accuracy,
              loss: m.loss,
              samples: m.samples,
              lr,
              seconds,
              imagesPerSecond,
            });
          },
        });
      },
      checkpoint(epoch) {
        const step = epoch * stepsPerEpoch;
        const optimizer: Record<string, TensorToWrite> = {};
        for (const key of store.trainableKeys()) {
          const p = store.get(key);
          const [buf] = opt.stateFor(p);
          optimizer[key] = { dtype: 'F32', shape: p.shape, data: async () => gpu.readF32(buf) };
        }
        const model = modelTensors(gpu, desc, store);
        for (const key of desc.ignoredKeys) {
          model[key] = { dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(step)) };
        }
        return { optimizer, optimizerMeta: { kind: 'sgd momentum_buffer', step: String(step) }, model, step };
      },
      dispose() {
        net.unfreeze();
        opt.dispose();
        store.dispose();
      },
    };
  };
  return { configJson, stepsPerEpoch, start };
}

/** The batches of the test split in evaluation's shape. */
function* labelled(ds: ImageDataset, options: Parameters<typeof imageBatches>[1]) {
  for (const b of imageBatches(ds, options)) yield { x: b.x, labels: b.y, n: b.size };
}

function checkState(state: unknown, file: string): TrainState<RunSettings, EpochRecord> {
  const st = state as TrainState<RunSettings, EpochRecord> | null;
  if (st?.version !== 1 || !Number.isSafeInteger(st.completedEpochs) || !st.settings) {
    throw new Error(`${file}: not a train state this version of sglp wrote (version 1)`);
  }
  return st;
}

export const imageTrainer: TrainerFamily<
  ImageTrainOptions,
  ImageTrainData,
  RunSettings,
  EpochRecord,
  ImageTrainResult
> = {
  checkState,
  check: checkImageOptions,
  prepare: (o, data) => ({ ...data, train: firstImages(data.train, o.limit) }),
  settings: imageSettings,
  plan: imagePlan,
  result(s, history, { accuracy, loss, samples, trainLoss }) {
    return { epochs: s.epochs, completedEpochs: history.length, accuracy, loss, samples, trainLoss, history };
  },
};
