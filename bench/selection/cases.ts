// The selection benchmark's cases (docs/selection-benchmark.md): every model at two removal ratios, each
// with the same segmentation, keep plan and repair for every rule. `dir` is relative to the repository (the
// bundled models) or to the folder that bench/selection/train-models.sh wrote.

export interface RatioCase {
  readonly remove: number;
  /** `--segments K`; absent: the elbow rule. */
  readonly segments?: number;
}

export interface ModelCase {
  readonly name: string;
  /** 'repo': under the repository; 'trained': under the train-models.sh folder. */
  readonly where: 'repo' | 'trained';
  readonly dir: string;
  readonly data: string;
  readonly ratios: readonly RatioCase[];
  /**
   * Scoring protocol of the searching rules (GradNorm, loss) where the default protocol does not fit the
   * benchmark's time: the demo's reduced one on ResNet-56 (its default GradNorm search is ~50 min).
   */
  readonly scoring?: { gradnormBatches: number; gradnormBatchSize: number; maxExhaustive: number };
  /** Fine-tuning images when not BENCH_PROTOCOL's (the first model ran before it was cut to fit the time). */
  readonly finetuneSamples?: number;
}

const F = '/usr/share/games/fortunes';

export const CASES: readonly ModelCase[] = [
  {
    name: 'fmnist-resnet20-s1',
    where: 'trained',
    dir: 'fmnist-resnet20-s1',
    data: 'fashion-mnist',
    finetuneSamples: 1024,
    ratios: [{ remove: 2 }, { remove: 4, segments: 3 }],
  },
  {
    name: 'fortunes-llama12',
    where: 'repo',
    dir: 'models/fortunes-llama12',
    data: `text:${F}/cookie`,
    ratios: [{ remove: 3 }, { remove: 6 }, { remove: 6, segments: 3 }],
  },
  {
    name: 'text-llama8-computers',
    where: 'trained',
    dir: 'text-llama8-computers',
    data: `text:${F}/computers`,
    ratios: [{ remove: 2 }, { remove: 4, segments: 3 }],
  },
  {
    name: 'fmnist-resnet56',
    where: 'repo',
    dir: 'models/fmnist-resnet56',
    data: 'fashion-mnist',
    ratios: [{ remove: 14 }, { remove: 7 }],
    scoring: { gradnormBatches: 1, gradnormBatchSize: 32, maxExhaustive: 100 },
  },
  {
    name: 'text-llama10-songs',
    where: 'trained',
    dir: 'text-llama10-songs',
    data: `text:${F}/songs-poems`,
    ratios: [{ remove: 3 }, { remove: 5, segments: 3 }],
  },
  {
    name: 'fmnist-resnet32b-s2',
    where: 'trained',
    dir: 'fmnist-resnet32b-s2',
    data: 'fashion-mnist',
    ratios: [{ remove: 4 }, { remove: 8, segments: 3 }],
  },
  {
    name: 'text-llama6-definitions',
    where: 'trained',
    dir: 'text-llama6-definitions',
    data: `text:${F}/definitions`,
    ratios: [
      { remove: 2, segments: 3 },
      { remove: 3, segments: 2 },
    ],
  },
  {
    name: 'fmnist-resnet20-s3',
    where: 'trained',
    dir: 'fmnist-resnet20-s3',
    data: 'fashion-mnist',
    ratios: [{ remove: 2 }, { remove: 4, segments: 3 }],
  },
];

/** The rules every case runs: SGLP with each within-segment score, and the baselines. */
export const RULES = [
  { id: 'similarity', method: 'sglp', score: 'similarity' },
  { id: 'loss', method: 'sglp', score: 'loss' },
  { id: 'gradnorm-min', method: 'sglp', score: 'gradnorm', select: 'min' },
  { id: 'gradnorm-max', method: 'sglp', score: 'gradnorm', select: 'max' },
  { id: 'block-influence', method: 'block-influence' },
  { id: 'angular', method: 'angular' },
  { id: 'random', method: 'random' },
  { id: 'last', method: 'last' },
] as const;

export type Rule = (typeof RULES)[number];

/** The benchmark's shared protocol: evaluation subset and the short fine-tuning epoch. */
export const BENCH_PROTOCOL = {
  /** Images: accuracy on the first N test images. Text: the whole test split. */
  imageEvalLimit: 1000,
  /** One epoch on the first N train images / windows (docs/method.md §5 optimiser settings). */
  imageFinetuneSamples: 512,
  textFinetuneSamples: 256,
} as const;
