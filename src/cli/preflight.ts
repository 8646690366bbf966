// The pre-flight of the long commands: everything that can be known before the device is touched is
// checked first, so a bad flag, flag combination, data set or output location fails in seconds with a
// plain message instead of after the work (a default CNN prune is ~50 minutes on two CPU cores).
//
// Flag rules are a table (PRUNE_RULES): each takes the options with their defaults resolved and returns
// the problem in words, or nothing; a new flag's rule is one entry. Data and output checks follow, the
// data last because loading it is the slowest part; what was loaded is handed on so nothing is read twice.

import { describeModel } from '../arch/describe.js';
import type { ModelDescription } from '../arch/types.js';
import type { CnnConfig, LlmConfig } from '../io/config.js';
import { parseDataSpec } from '../io/data-spec.js';
import type { ImageDataset } from '../io/dataset.js';
import { type TextWindows, textWindows } from '../io/text-data.js';
import { readTokenizer, type TextTokenizer } from '../io/tokenizer.js';
import { loadImageDataset } from '../node/datasets.js';
import { directorySource } from '../node/files.js';
import { readRunnableConfig } from '../node/model-dir.js';
import { checkOutLocation, PreflightError, readTextData } from '../node/out-location.js';
import type { Select } from '../sglp/candidates.js';
import { SGLP_DEFAULTS } from '../sglp/families/image/prune.js';
import { SGLP_TEXT_DEFAULTS } from '../sglp/families/lm/prune.js';
import { METHODS, type Method, type Score } from '../sglp/report/schema.js';
import { resolveSettings } from '../sglp/search-stage.js';
import { DEFAULT_MAX_SEGMENTS } from '../sglp/segment.js';
import { asFlagError } from './flag-names.js';
import { readLlmConfig } from './prune.js';
import { type PruneCliOptions, parseScore } from './prune-common.js';

// The file-system checks live in src/node/ (no node:fs in cli/: docs/architecture.md, "Layers").
export { checkOutLocation, makeParents, PreflightError, readTextData } from '../node/out-location.js';

// ---------------------------------------------------------------------------------------------------
// Flags

/** What the flag rules see: the options, the model's kind and units, the defaults filled in. */
export interface PruneFlagContext {
  readonly opts: PruneCliOptions;
  readonly model: string;
  readonly text: boolean;
  readonly method: Method;
  readonly desc: ModelDescription;
  /** Max position embeddings of a language model. */
  readonly maxPositions?: number;
  readonly samples: number;
  readonly batch: number;
  readonly gradnormBatches: number;
  readonly gradnormBatchSize: number;
  /** "samples" or "windows", for messages. */
  readonly what: string;
}

/** `--flag N`, or `--flag N (the default)` when the user did not give it. */
function flag(name: string, value: number, given: unknown): string {
  return given === undefined ? `${name} ${value} (the default)` : `${name} ${value}`;
}

type Rule = (c: PruneFlagContext) => string | undefined;

/** The flag rules of `sglp prune` (and `compare`, which runs it per method); first problem wins. */
export const PRUNE_RULES: readonly Rule[] = [
  ({ opts, text, model }) =>
    opts.recalibrate && text
      ? `--recalibrate repairs batch norm; ${model} is a language model and has none`
      : undefined,
  ({ opts }) =>
    opts.remove === 0
      ? '--remove 0 removes nothing: the output would be the input model unchanged; give --remove R with R >= 1'
      : undefined,
  ({ opts, batch, samples, what }) =>
    batch > samples
      ? `${flag('--batch', batch, opts.batch)} is larger than ${flag('--samples', samples, opts.samples)}: a ` +
        `calibration batch cannot hold more than the ${samples} calibration ${what}; give --batch <= ${samples} or more --samples`
      : undefined,
  ({ opts, text, model }) =>
    opts.seqLen !== undefined && !text
      ? `--seq-len applies to language models on text:FILE data only; ${model} is not one`
      : undefined,
  ({ opts }) =>
    opts.seqLen !== undefined && !(Number.isSafeInteger(opts.seqLen) && opts.seqLen >= 2)
      ? `--seq-len must be an integer >= 2 (one token predicts the next), got ${opts.seqLen}`
      : undefined,
  ({ opts, maxPositions, model }) => {
    const seqLen = opts.seqLen ?? SGLP_TEXT_DEFAULTS.seqLen;
    return maxPositions !== undefined && seqLen > maxPositions
      ? `${flag('--seq-len', seqLen, opts.seqLen)} is longer than ${model}'s max_position_embeddings ` +
          `${maxPositions}; give --seq-len <= ${maxPositions}`
      : undefined;
  },
  ({ opts }) =>
    opts.finetuneSamples !== undefined && !opts.finetuneEpochs
      ? '--finetune-samples limits fine-tuning: give --finetune-epochs E (>= 1) too'
      : undefined,
  ({ opts }) =>
    opts.finetuneLr !== undefined && !opts.finetuneEpochs
      ? '--finetune-lr sets fine-tuning: give --finetune-epochs E (>= 1) too'
      : undefined,
  ({ opts, desc }) =>
    opts.segments !== undefined && opts.segments > desc.units.length
      ? `--segments ${opts.segments}: ${desc.name} has only ${desc.units.length} units to split`
      : undefined,
  ({ opts }) => {
    if (opts.keepPerSegment === undefined || opts.segments === undefined) return undefined;
    const n = opts.keepPerSegment.split(',').length;
    return n === opts.segments
      ? undefined
      : `--keep-per-segment has ${n} counts but --segments is ${opts.segments}; give one count per segment`;
  },
  removalRule,
];

/** --remove R against what any segmentation allows (SGLP; the baselines' limit is resolveSettings'). */
function removalRule({ opts, method, desc, text }: PruneFlagContext): string | undefined {
  const R = opts.remove;
  if (R === undefined || method !== 'sglp') return undefined;
  const L = desc.units.length;
  const prot = new Set(desc.units.filter((u) => u.protected).map((u) => u.index));
  // Language models have no stem (families/lm/family.ts plans with stem null); classifiers keep the stem's segment.
  const stem = text ? null : (desc.stem ?? null);
  const kMax = Math.min(DEFAULT_MAX_SEGMENTS, L);
  const limitOf = (k: number) => removalLimit(L, prot, stem, k);
  const max = opts.segments !== undefined ? limitOf(opts.segments) : Math.max(...range(1, kMax).map(limitOf));
  if (R <= max) return undefined;
  const why =
    (stem === null
      ? 'every segment keeps'
      : "the stem's segment keeps all its units; every other segment keeps") +
    (prot.size > 0
      ? ` its protected units (${prot.size} in all) and at least one unit`
      : ' at least one unit');
  const perK = range(1, kMax)
    .map((k) => `${k}: ${limitOf(k)}`)
    .join(', ');
  const under =
    opts.segments !== undefined
      ? `with --segments ${opts.segments}`
      : `whatever segments the elbow rule finds (at most ${DEFAULT_MAX_SEGMENTS})`;
  return (
    `--remove ${R}: at most ${max} of the ${L} units of ${desc.name} can be removed ${under}, because ${why}; ` +
    `--segments K changes the limit (K ${perK})`
  );
}

function range(a: number, b: number): number[] {
  return Array.from({ length: Math.max(0, b - a + 1) }, (_, i) => a + i);
}

/**
 * The most units `--remove` can take from `units` units split into `k` contiguous segments, over every
 * such split (keep-plan.ts's limit: a segment without the stem keeps its protected units and at least
 * one; the stem's segment keeps all).
 */
export function removalLimit(
  units: number,
  prot: ReadonlySet<number>,
  stem: number | null,
  k: number,
): number {
  if (k < 1 || k > units) return 0;
  const protBefore = [0];
  for (let u = 0; u < units; u++) protBefore.push(protBefore[u] + (prot.has(u) ? 1 : 0));
  const value = (s: number, e: number) => {
    if (stem !== null && stem >= s && stem < e) return 0;
    const size = e - s;
    return Math.max(0, Math.min(size - 1, size - (protBefore[e] - protBefore[s])));
  };
  const NONE = Number.NEGATIVE_INFINITY;
  // best[j][e]: most removable with j segments covering units [0, e).
  let prev = Array.from({ length: units + 1 }, (_, e) => (e === 0 ? 0 : NONE));
  for (let j = 1; j <= k; j++) {
    const cur = Array.from({ length: units + 1 }, () => NONE);
    for (let e = j; e <= units; e++) {
      for (let s = j - 1; s < e; s++) {
        if (prev[s] === NONE) continue;
        cur[e] = Math.max(cur[e], prev[s] + value(s, e));
      }
    }
    prev = cur;
  }
  return prev[units] === NONE ? 0 : prev[units];
}

// ---------------------------------------------------------------------------------------------------
// sglp prune

/** What the pre-flight of `sglp prune` found and loaded, for the command to go on with. */
export interface PrunePreflight {
  readonly llm?: { readonly config: LlmConfig; readonly configText: string };
  readonly cnn?: CnnConfig;
  readonly images?: { readonly train: ImageDataset; readonly test: ImageDataset };
  readonly text?: {
    readonly train: TextWindows;
    readonly test: TextWindows;
    readonly tokenizer: TextTokenizer;
  };
  /** Lines for stderr (e.g. a stale staging directory removed). */
  readonly notes: readonly string[];
}

/** Every check of `sglp prune` that needs no device, in order: flags, model, output, data. */
export async function preflightPrune(model: string, opts: PruneCliOptions): Promise<PrunePreflight> {
  const spec = parseDataSpec(opts.data);
  const method = (opts.method ?? 'sglp') as Method;
  if (!(METHODS as readonly string[]).includes(method)) {
    throw new PreflightError(`--method must be one of ${METHODS.join(', ')}, got "${opts.method}"`);
  }
  const llm = await readLlmConfig(model);
  const cnn = llm ? undefined : await readRunnableConfig(model);
  const text = llm !== undefined;
  if (text && spec.kind !== 'text') {
    throw new PreflightError(
      `${model} is a language model (${llm.config.architecture}): --data must be text:FILE, got "${opts.data}"`,
    );
  }
  if (!text && spec.kind === 'text') {
    throw new PreflightError(
      `${model} is an image classifier: --data must be an image data set (fashion-mnist, mnist:DIR, ` +
        `cifar10:DIR, cifar100:DIR), got "${opts.data}"`,
    );
  }
  const desc = describeModel(llm ? llm.config : (cnn as CnnConfig));
  const D = text ? SGLP_TEXT_DEFAULTS : SGLP_DEFAULTS;
  const ctx: PruneFlagContext = {
    opts,
    model,
    text,
    method,
    desc,
    maxPositions: llm?.config.max_position_embeddings,
    samples: opts.samples ?? D.samples,
    batch: opts.batch ?? D.batch,
    gradnormBatches: opts.gradnormBatches ?? D.gradnormBatches,
    gradnormBatchSize: opts.gradnormBatchSize ?? D.gradnormBatchSize,
    what: text ? 'windows' : 'samples',
  };
  for (const rule of PRUNE_RULES) {
    const problem = rule(ctx);
    if (problem) throw new PreflightError(problem);
  }
  // The pipelines' own checks of the settings (the baselines' removal budget among them) are pure: run them now.
  const target =
    opts.remove !== undefined
      ? { remove: opts.remove }
      : { keepPerSegment: (opts.keepPerSegment ?? '').split(',').map(Number) };
  let score: Score;
  try {
    ({ score } = resolveSettings(
      {
        target,
        method,
        score: parseScore(opts.score),
        select: opts.select as Select | undefined,
        seed: opts.seed,
        samples: ctx.samples,
        batch: ctx.batch,
        gradnormBatches: ctx.gradnormBatches,
        gradnormBatchSize: ctx.gradnormBatchSize,
        maxExhaustive: opts.maxExhaustive,
        evalLimit: opts.evalLimit,
      },
      D,
      desc,
    ));
  } catch (err) {
    throw new PreflightError((asFlagError(err) as Error).message);
  }
  const notes = await checkOutLocation(opts.out, { kind: 'dir', input: model });

  // Data: the right kind was checked above; now that it exists and holds enough for what was asked.
  // [the flags as the message names them, how many samples (text: windows) they need]
  const demands: [string, number][] = [[flag('--samples', ctx.samples, opts.samples), ctx.samples]];
  if (method === 'sglp' && score !== 'similarity') {
    const g = ctx.gradnormBatches * ctx.gradnormBatchSize;
    demands.push([
      `${flag('--gradnorm-batches', ctx.gradnormBatches, opts.gradnormBatches)} x ` +
        `${flag('--gradnorm-batch-size', ctx.gradnormBatchSize, opts.gradnormBatchSize)} = ${g}`,
      g,
    ]);
  }
  if (opts.finetuneEpochs && opts.finetuneSamples !== undefined) {
    demands.push([`--finetune-samples ${opts.finetuneSamples}`, opts.finetuneSamples]);
  }
  // An explicit --recalibrate must be there; the default takes what a small data set has.
  if (opts.recalibrate) demands.push([`--recalibrate ${opts.recalibrate}`, opts.recalibrate]);
  const need = (n: number) => demands.find(([, v]) => v > n);
  if (llm) {
    const file = (spec as { file: string }).file;
    const tokenizer = await readTokenizer(directorySource(model));
    const ids = tokenizer.encode(await readTextData(file));
    const seqLen = opts.seqLen ?? SGLP_TEXT_DEFAULTS.seqLen;
    const train = textWindows(ids, 'train', seqLen, { name: file });
    const test = textWindows(ids, 'test', seqLen, { name: file });
    const short = need(train.windows);
    if (short) {
      throw new PreflightError(
        `${short[0]}: ${file} (train split) has only ${train.windows} windows of ` +
          `${seqLen} tokens (${train.splitTokens} tokens, ${tokenizer.name}); ask for fewer or give more text`,
      );
    }
    if (test.windows === 0) {
      throw new PreflightError(
        `--data text:${file}: the test split has ${test.splitTokens} tokens (${tokenizer.name}), not one full ` +
          `window of --seq-len ${seqLen}; give more text or a shorter --seq-len`,
      );
    }
    return { llm, text: { train, test, tokenizer }, notes };
  }
  const train = await loadImageDataset(opts.data, 'train');
  const test = await loadImageDataset(opts.data, 'test');
  const short = need(train.n);
  if (short) {
    throw new PreflightError(`${short[0]}: ${train.name} has only ${train.n} samples; ask for fewer`);
  }
  return { cnn, images: { train, test }, notes };
}

// ---------------------------------------------------------------------------------------------------
// sglp cka

/** `sglp cka`: batch against samples, --seq-len against the model, and --out FILE (the data: the command). */
export async function preflightCka(
  opts: { samples?: number; batch?: number; seqLen?: number; out?: string },
  defaults: { samples: number; batch: number; seqLen?: number },
  o: { what: string; model: string; maxPositions?: number },
): Promise<string[]> {
  const samples = opts.samples ?? defaults.samples;
  const batch = opts.batch ?? defaults.batch;
  if (batch > samples) {
    throw new PreflightError(
      `${flag('--batch', batch, opts.batch)} is larger than ${flag('--samples', samples, opts.samples)}: a ` +
        `CKA batch cannot hold more than the ${samples} calibration ${o.what}; give --batch <= ${samples} or more --samples`,
    );
  }
  const seqLen = opts.seqLen ?? defaults.seqLen;
  if (o.maxPositions !== undefined && seqLen !== undefined && seqLen > o.maxPositions) {
    throw new PreflightError(
      `${flag('--seq-len', seqLen, opts.seqLen)} is longer than ${o.model}'s max_position_embeddings ` +
        `${o.maxPositions}; give --seq-len <= ${o.maxPositions}`,
    );
  }
  if (opts.out === undefined) return [];
  return checkOutLocation(opts.out, { kind: 'file' });
}
