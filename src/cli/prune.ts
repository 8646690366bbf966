// `sglp prune MODEL --data SPEC (--remove R | --keep-per-segment a,b,…) --out DIR [...]`: SGLP, or with
// `--method` a baseline (src/sglp/baselines.ts), on an image classifier directory (CIFAR or torchvision
// ResNet, CIFAR VGG-BN: src/sglp/pipeline.ts), or on a LLaMA-family one with text:FILE data (prune-llm.ts:
// a Hugging Face directory). Writes DIR/model.safetensors, DIR/config.json, DIR/sglp-report.json and
// DIR/report.html, all at once (a staging directory renamed to DIR: output.ts), after a pre-flight that
// checks flags, data and DIR before the device (preflight.ts); the input model is only read. The model is
// loaded (an LM's --stream: opened, its layers read one at a time), pruned and exported by the library
// (prune-run.ts: src/api/ `loadModel`, `prune`, `exportFiles`, as the page and Deno run them), for both
// families; the library's errors name option fields, reworded here with the flags (flag-names.ts).
// `--json` prints the report on stdout; progress goes to stderr.

import { type LlmConfig, parseModelConfig } from '../io/config.js';
import { parseDataSpec } from '../io/data-spec.js';
import { loadImageDataset } from '../node/datasets.js';
import { isNotFound, pathIn, readFileText } from '../node/files.js';
import { readRunnableConfig } from '../node/model-dir.js';
import { parseSaveDtype } from '../sglp/export.js';
import type { KeepRequest } from '../sglp/keep-plan.js';
import { methodTargetError } from '../sglp/pipeline.js';
import { METHODS, type Method, type Report } from '../sglp/report/schema.js';
import { checkFinetuneSamples } from '../train/finetune.js';
import { checkDatasetFits } from './common.js';
import { withFlagNames } from './flag-names.js';
import { preflightPrune } from './preflight.js';
import { processIo } from './progress.js';
import { type PruneCliOptions, type PruneDeps, protocolOptions } from './prune-common.js';
import { pruneLlmCommand } from './prune-llm.js';
import { pruneWithLibrary } from './prune-run.js';

export type { PruneCliOptions, PruneDeps } from './prune-common.js';

function parseTarget(opts: PruneCliOptions): KeepRequest {
  const hasRemove = opts.remove !== undefined;
  const hasKeep = opts.keepPerSegment !== undefined;
  if (hasRemove === hasKeep) {
    throw new Error('give exactly one of --remove R and --keep-per-segment a,b,…');
  }
  if (hasRemove) return { remove: opts.remove as number };
  const text = opts.keepPerSegment as string;
  const parts = text.split(',').map((s) => s.trim());
  const counts = parts.map(Number);
  if (parts.some((p, i) => !/^\d+$/.test(p) || !Number.isSafeInteger(counts[i]))) {
    throw new Error(`--keep-per-segment must be counts like 3,3,4,2,2, got "${text}"`);
  }
  return { keepPerSegment: counts };
}

/** `--method` checked against the methods there are. */
export function parseMethod(method: string | undefined): Method {
  if (method === undefined) return 'sglp';
  if (!(METHODS as readonly string[]).includes(method)) {
    throw new Error(`--method must be one of ${METHODS.join(', ')}, got "${method}"`);
  }
  return method as Method;
}

function checkUnsupported(opts: PruneCliOptions): void {
  if (opts.seed !== undefined && !Number.isSafeInteger(opts.seed)) {
    throw new Error(`--seed must be an integer, got ${opts.seed}`);
  }
  const e = opts.finetuneEpochs;
  if (e !== undefined && !(Number.isSafeInteger(e) && e >= 0)) {
    throw new Error(`--finetune-epochs must be an integer >= 0, got ${e}`);
  }
  const n = opts.finetuneSamples;
  if (n !== undefined) {
    checkFinetuneSamples(n);
    if (!e) throw new Error('--finetune-samples limits fine-tuning: give --finetune-epochs E (>= 1) too');
  }
  const lr = opts.finetuneLr;
  if (lr !== undefined) {
    if (!(Number.isFinite(lr) && lr > 0)) throw new Error(`--finetune-lr must be a number > 0, got ${lr}`);
    if (!e) throw new Error('--finetune-lr sets fine-tuning: give --finetune-epochs E (>= 1) too');
  }
  parseSaveDtype(opts.saveDtype);
  if (opts.select !== undefined && opts.select !== 'min' && opts.select !== 'max') {
    throw new Error(`--select must be min or max, got "${opts.select}"`);
  }
}

/** `sglp prune`: the library's option errors reworded with the flags (flag-names.ts). */
export function pruneCommand(model: string, opts: PruneCliOptions, deps: PruneDeps = {}): Promise<Report> {
  return withFlagNames(() => runPrune(model, opts, deps));
}

async function runPrune(model: string, opts: PruneCliOptions, deps: PruneDeps): Promise<Report> {
  const io = deps.io ?? processIo;
  checkUnsupported(opts);
  const method = parseMethod(opts.method);
  const target = parseTarget(opts);
  const targetError = methodTargetError(method, target);
  if (targetError) throw targetError;
  parseDataSpec(opts.data); // a bad spec fails before anything slow
  const llm = await readLlmConfig(model);
  if (llm) return pruneLlmCommand(model, opts, deps, { ...llm, method, target });
  if (opts.seqLen !== undefined) {
    throw new Error(`--seq-len applies to language models on text:FILE data only; ${model} is not one`);
  }
  if (opts.stream || opts.memoryCap !== undefined) {
    const flag = opts.stream ? '--stream' : '--memory-cap';
    throw new Error(`${flag} applies to language models only (layer streaming); ${model} is not one`);
  }
  if (opts.precision !== undefined && opts.precision !== 'f32') {
    throw new Error(`--precision ${opts.precision} applies to language models only; ${model} is not one`);
  }
  const saveDtype = parseSaveDtype(opts.saveDtype);
  if (saveDtype !== 'auto' && saveDtype !== 'f32') {
    // BN running statistics and the classifier are kept in f32; only language models change dtype.
    throw new Error(
      `--save-dtype ${saveDtype}: ${model} is an image classifier, written as F32 (auto or f32)`,
    );
  }
  // Flags, model, --out and data, before the device is touched (preflight.ts).
  const pre = await preflightPrune(model, opts);
  for (const note of pre.notes) io.stderr(`note: ${note}\n`);
  const config = pre.cnn ?? (await readRunnableConfig(model));
  const { train, test } = pre.images ?? {
    train: await loadImageDataset(opts.data, 'train'),
    test: await loadImageDataset(opts.data, 'test'),
  };
  checkDatasetFits(train, config, model);
  checkDatasetFits(test, config, model);
  const options = {
    target,
    method,
    ...protocolOptions(opts),
    recalibrate: opts.recalibrate,
    finetune: opts.finetuneEpochs
      ? { epochs: opts.finetuneEpochs, samples: opts.finetuneSamples, lr: opts.finetuneLr }
      : undefined,
    dataSpec: opts.data,
    input: model,
    output: opts.out,
    before: deps.before && 'accuracy' in deps.before ? deps.before : undefined,
    calibrationCache: deps.calibrationCache,
  };
  // Loaded, pruned and exported by the library (prune-run.ts); num_batches_tracked carried over.
  return pruneWithLibrary(model, { data: { train, test }, options, precision: 'f32' }, opts, deps);
}

/** The config of a LLaMA-family model directory and its text, or undefined for any other directory. */
export async function readLlmConfig(
  model: string,
): Promise<{ config: LlmConfig; configText: string } | undefined> {
  let configText: string;
  try {
    configText = await readFileText(pathIn(model, 'config.json'));
  } catch (err) {
    if (isNotFound(err)) return undefined; // readRunnableConfig names what is missing
    throw err;
  }
  const config = parseModelConfig(configText, pathIn(model, 'config.json'));
  return config.kind === 'llm' ? { config, configText } : undefined;
}
