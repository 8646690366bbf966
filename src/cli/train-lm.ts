// `sglp train --arch llama --layers 12 --hidden 64 --heads 4 --kv-heads 2 --intermediate 172 --data text:FILE
// --seq-len 128 --batch 8 --epochs E --out DIR`: trains a byte-level causal LM (LlamaForCausalLM, AdamW,
// warmup + cosine) through the library's `train` (src/api/train.ts, src/train/run/lm.ts), with the same
// run management, checkpoints and progress as the image trainer (train.ts's runTrainCommand). Here: the
// llama flags, which of `sglp train`'s flags go to it, and reading the text file.

import type { Command } from 'commander';
import {
  type LmEpochSummary,
  type LmTrainOptions,
  type LmTrainResult,
  TRAIN_LM_DEFAULTS,
  train,
} from '../api/train.js';
import { parseDataSpec } from '../io/data-spec.js';
import { isNotFound, readFileBytes } from '../node/files.js';
import { intAtLeast } from './common.js';
import { processIo } from './progress.js';
import { type RunPrinter, runTrainCommand, type TrainDeps } from './train.js';

export type { LmEpochSummary, LmRunSettings } from '../api/train.js';
export { llamaConfigJson, TRAIN_LM_DEFAULTS } from '../api/train.js';

/** The flags of `sglp train --arch llama`: the library's options, a text:FILE spec and --out. */
export interface TrainLmOptions extends LmTrainOptions {
  readonly data: string;
  readonly out: string;
  readonly resume?: boolean;
  readonly json?: boolean;
}

export type TrainLmResult = { readonly out: string } & LmTrainResult;

/** The text file's UTF-8 bytes as token ids, named in errors. */
async function readTextIds(file: string): Promise<Uint8Array> {
  try {
    return await readFileBytes(file);
  } catch (err) {
    if (isNotFound(err)) throw new Error(`--data text:${file}: file not found`);
    throw err;
  }
}

export async function trainLmCommand(opts: TrainLmOptions, deps: TrainDeps = {}): Promise<TrainLmResult> {
  const io = deps.io ?? processIo;
  const { data: spec, out, resume, json, ...options } = opts;
  const parsed = parseDataSpec(spec);
  if (parsed.kind !== 'text') {
    throw new Error(`--arch llama trains on text: --data text:FILE, not "${spec}"`);
  }
  const data = async () => ({ name: spec, source: parsed.file, bytes: await readTextIds(parsed.file) });
  const seqLen = options.seqLen ?? TRAIN_LM_DEFAULTS.seqLen;
  let model = 'llama';
  const printer: RunPrinter<LmEpochSummary> = {
    start: (p) => {
      model = p.model;
      return (
        `${p.model}: ${p.params} parameters; ${p.samples} train windows of ${seqLen} bytes, ` +
        `${p.stepsPerEpoch} steps per epoch`
      );
    },
    epoch: (r, label) =>
      `${label}: train nll ${r.trainLoss.toFixed(4)} (${r.tokensPerSecond.toFixed(0)} tok/s, ${r.seconds.toFixed(0)} s)  ` +
      `test perplexity ${r.perplexity.toFixed(3)} nll ${r.nll.toFixed(4)}`,
  };
  const trained = await runTrainCommand(out, resume, deps, printer, (gpu, call) =>
    train(gpu, { ...options, arch: 'llama', data }, call),
  );
  const result: TrainLmResult = { out, ...trained };
  if (json) io.stdout(`${JSON.stringify(result)}\n`);
  else {
    io.stdout(
      `trained ${model} for ${trained.epochs} epochs → ${out}: test perplexity ` +
        `${trained.perplexity.toFixed(3)}  nll ${trained.nll.toFixed(4)}\n`,
    );
  }
  return result;
}

/** The language-model flags of `sglp train` (the command's other flags are the CNN trainer's). */
export function registerLmTrainOptions(program: Command): void {
  const train = program.commands.find((c) => c.name() === 'train');
  if (!train) throw new Error('internal: register the train command before its --arch llama flags');
  const d = TRAIN_LM_DEFAULTS;
  train
    // Shared with vgg's layer list (8,M,16,M,...): an integer is parsed here, a list passes as text.
    .option(
      '--layers <N>',
      `llama: decoder layers (default: ${d.layers}); vgg: conv widths and M pools, like 8,M,16,M,...`,
      (v: string) => (v.includes(',') || v.trim() === 'M' ? v : intAtLeast(1)(v)),
    )
    .option('--hidden <N>', `llama: hidden size (default: ${d.hidden})`, intAtLeast(1))
    .option('--heads <N>', `llama: attention heads (default: ${d.heads})`, intAtLeast(1))
    .option('--kv-heads <N>', 'llama: key/value heads (default: --heads)', intAtLeast(1))
    .option('--intermediate <N>', `llama: MLP size (default: ${d.intermediate})`, intAtLeast(1))
    .option('--seq-len <T>', `llama: bytes per training window (default: ${d.seqLen})`, intAtLeast(2))
    .option('--warmup <STEPS>', `llama: linear warmup steps (default: ${d.warmup})`, intAtLeast(0))
    .addHelpText(
      'after',
      `\nWith --arch llama (AdamW, warmup + cosine): --batch counts windows (default ${d.batch}), --lr defaults to ` +
        `${d.lr}, --weight-decay to ${d.weightDecay}, --seed to ${d.seed}; --limit counts windows.\n`,
    );
}

const LM_ONLY = ['layers', 'hidden', 'heads', 'kvHeads', 'intermediate', 'seqLen', 'warmup'] as const;
const CNN_ONLY = ['depth', 'inChannels', 'numClasses', 'shortcut', 'blocks', 'momentum', 'augment'] as const;
/** Flags both trainers take; their commander defaults are the CNN trainer's, so only given ones count. */
const SHARED = ['batch', 'lr', 'weightDecay', 'seed'] as const;

function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * The `sglp train` flags as TrainLmOptions when --arch is llama (flags only the CNN trainer takes are an
 * error), or undefined for a CNN after checking that no llama-only flag was given.
 */
export function lmTrainOptions(opts: Record<string, unknown>, cmd: Command): TrainLmOptions | undefined {
  const given = (k: string) => opts[k] !== undefined && cmd.getOptionValueSource(k) !== 'default';
  if (opts.arch !== 'llama') {
    const wrong = LM_ONLY.filter((k) => given(k) && !(k === 'layers' && opts.arch === 'vgg'));
    if (wrong.length > 0) {
      const alsoVgg = wrong.length === 1 && wrong[0] === 'layers' ? ' and vgg' : '';
      throw new Error(
        `${wrong.map(flagName).join(', ')}: only for --arch llama${alsoVgg} (got --arch ${opts.arch})`,
      );
    }
    return undefined;
  }
  const wrong = CNN_ONLY.filter(given);
  if (wrong.length > 0) throw new Error(`${wrong.map(flagName).join(', ')}: not a flag of --arch llama`);
  const picked: Record<string, unknown> = {};
  for (const k of [...LM_ONLY, ...SHARED]) if (given(k)) picked[k] = opts[k];
  for (const k of ['data', 'epochs', 'out', 'resume', 'limit', 'json']) picked[k] = opts[k];
  return picked as unknown as TrainLmOptions;
}
