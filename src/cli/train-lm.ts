// `sglp train --arch llama --layers 12 --hidden 64 --heads 4 --kv-heads 2 --intermediate 172 --data text:FILE
// --seq-len 128 --batch 8 --epochs E --out DIR`: trains a byte-level (vocabulary 256, no tokenizer.json)
// LlamaForCausalLM from transformers' initialisation with AdamW and a linear-warmup + cosine learning rate on
// seeded shuffles of the train split's windows. After every epoch it measures perplexity on the test split
// and writes, each file atomically and in this order: DIR/optimizer.safetensors (AdamW moments),
// DIR/model.safetensors, DIR/config.json (Hugging Face layout, tied embeddings) and DIR/train-state.json
// (the commit point). `--resume` continues after the last completed epoch and repeats the uninterrupted run.

import type { Command } from 'commander';
import { describeModel } from '../arch/describe.js';
import type { ModelDescription } from '../arch/types.js';
import { evaluatePerplexity } from '../eval/perplexity.js';
import type { Gpu } from '../gpu/device.js';
import { type LlmConfig, validateModelConfig } from '../io/config.js';
import { parseDataSpec } from '../io/data-spec.js';
import { openSafetensors } from '../io/safetensors.js';
import type { TensorToWrite } from '../io/safetensors-write.js';
import { type TextWindows, textWindows } from '../io/text-data.js';
import { byteTokenizer } from '../io/tokenizer.js';
import { Llama } from '../nn/llama.js';
import { ParamStore } from '../nn/params.js';
import { acquireDevice } from '../node/device.js';
import { isNotFound, openFileSource, pathIn, readFileBytes } from '../node/files.js';
import {
  checkCheckpointEpochs,
  createRunDir,
  MODEL_FILE,
  modelTensors,
  OPTIMIZER_FILE,
  openRunDir,
  writeCheckpoint,
} from '../node/train-run-dir.js';
import { initLmArrays, type LmEpochRecord, lmStepsPerEpoch, runLmEpochs } from '../train/lm-loop.js';
import { ADAMW_DEFAULTS, Optimizer } from '../train/optimizer.js';
import { lmTraining } from '../tunables.js';
import { intAtLeast } from './common.js';
import { type CliIo, Progress, processIo } from './progress.js';

export interface TrainLmOptions {
  readonly layers?: number;
  readonly hidden?: number;
  readonly heads?: number;
  readonly kvHeads?: number;
  readonly intermediate?: number;
  readonly data: string;
  readonly seqLen?: number;
  readonly batch?: number;
  readonly epochs: number;
  readonly lr?: number;
  readonly warmup?: number;
  readonly weightDecay?: number;
  readonly seed?: number;
  readonly out: string;
  readonly resume?: boolean;
  /** Only the first N train and N test windows (smoke tests). */
  readonly limit?: number;
  readonly json?: boolean;
}

export const TRAIN_LM_DEFAULTS = {
  layers: 12,
  hidden: 64,
  heads: 4,
  intermediate: 172,
  seqLen: 128,
  ...lmTraining,
  seed: 0,
} as const;

/** Windows per perplexity forward pass after each epoch. */
const EVAL_BATCH = 16;

/** Every setting that changes the result; a resumed run must repeat them. */
export interface LmRunSettings {
  readonly arch: 'llama';
  readonly layers: number;
  readonly hidden: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly intermediate: number;
  readonly data: string;
  readonly limit: number | null;
  readonly seqLen: number;
  readonly batch: number;
  readonly epochs: number;
  readonly lr: number;
  readonly warmup: number;
  readonly weightDecay: number;
  readonly seed: number;
}

const FLAG_OF: Record<keyof LmRunSettings, string> = {
  arch: '--arch',
  layers: '--layers',
  hidden: '--hidden',
  heads: '--heads',
  kvHeads: '--kv-heads',
  intermediate: '--intermediate',
  data: '--data',
  limit: '--limit',
  seqLen: '--seq-len',
  batch: '--batch',
  epochs: '--epochs',
  lr: '--lr',
  warmup: '--warmup',
  weightDecay: '--weight-decay',
  seed: '--seed',
};

export interface LmEpochSummary extends LmEpochRecord {
  /** Test-split perplexity and mean NLL after the epoch. */
  readonly perplexity: number;
  readonly nll: number;
}

interface LmTrainState {
  readonly version: 1;
  readonly kind: 'llama';
  readonly completedEpochs: number;
  readonly step: number;
  readonly stepsPerEpoch: number;
  readonly settings: LmRunSettings;
  readonly history: LmEpochSummary[];
}

export interface TrainLmResult {
  readonly out: string;
  readonly epochs: number;
  readonly perplexity: number;
  readonly nll: number;
  readonly trainLoss: number;
  readonly seconds: number;
  readonly history: LmEpochSummary[];
}

function intFlag(value: number, flag: string, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new Error(`${flag} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

function lmSettings(o: TrainLmOptions): LmRunSettings {
  const d = TRAIN_LM_DEFAULTS;
  const heads = intFlag(o.heads ?? d.heads, '--heads', 1);
  const hidden = intFlag(o.hidden ?? d.hidden, '--hidden', 1);
  const kvHeads = intFlag(o.kvHeads ?? heads, '--kv-heads', 1);
  if (hidden % heads !== 0) throw new Error(`--hidden ${hidden} is not a multiple of --heads ${heads}`);
  if (heads % kvHeads !== 0) throw new Error(`--kv-heads ${kvHeads} does not divide --heads ${heads}`);
  const lr = o.lr ?? d.lr;
  if (!(Number.isFinite(lr) && lr > 0)) throw new Error(`--lr must be a number > 0, got ${lr}`);
  const weightDecay = o.weightDecay ?? d.weightDecay;
  if (!(Number.isFinite(weightDecay) && weightDecay >= 0)) {
    throw new Error(`--weight-decay must be a number >= 0, got ${weightDecay}`);
  }
  return {
    arch: 'llama',
    layers: intFlag(o.layers ?? d.layers, '--layers', 1),
    hidden,
    heads,
    kvHeads,
    intermediate: intFlag(o.intermediate ?? d.intermediate, '--intermediate', 1),
    data: o.data,
    limit: o.limit === undefined ? null : intFlag(o.limit, '--limit', 1),
    seqLen: intFlag(o.seqLen ?? d.seqLen, '--seq-len', 2),
    batch: intFlag(o.batch ?? d.batch, '--batch', 1),
    epochs: intFlag(o.epochs, '--epochs', 1),
    lr,
    warmup: intFlag(o.warmup ?? d.warmup, '--warmup', 0),
    weightDecay,
    seed: intFlag(o.seed ?? d.seed, '--seed', 0),
  };
}

/** config.json as transformers writes it for this model. */
export function llamaConfigJson(s: LmRunSettings): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: s.hidden,
    intermediate_size: s.intermediate,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    head_dim: s.hidden / s.heads,
    hidden_act: 'silu',
    max_position_embeddings: s.seqLen,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    rope_scaling: null,
    attention_bias: false,
    mlp_bias: false,
    tie_word_embeddings: true,
    vocab_size: byteTokenizer().vocabSize,
    initializer_range: 0.02,
    bos_token_id: null,
    eos_token_id: null,
    torch_dtype: 'float32',
  };
}

function checkState(state: unknown, file: string): LmTrainState {
  const st = state as LmTrainState | null;
  if (st?.version !== 1 || st.kind !== 'llama' || !st.settings) {
    throw new Error(`${file}: not a language-model train state this version of sglp wrote`);
  }
  return st;
}

/** The text file's UTF-8 bytes as token ids, named in errors. */
async function readTextIds(file: string): Promise<Uint8Array> {
  try {
    return await readFileBytes(file);
  } catch (err) {
    if (isNotFound(err)) throw new Error(`--data text:${file}: file not found`);
    throw err;
  }
}

async function saveCheckpoint(
  gpu: Gpu,
  out: string,
  desc: ModelDescription,
  params: ParamStore,
  opt: Optimizer,
  configJson: object,
  state: LmTrainState,
): Promise<void> {
  const optimizer: Record<string, TensorToWrite> = {};
  for (const key of params.trainableKeys()) {
    const p = params.get(key);
    const [m, v] = opt.stateFor(p);
    optimizer[`${key}.exp_avg`] = { dtype: 'F32', shape: p.shape, data: async () => gpu.readF32(m) };
    optimizer[`${key}.exp_avg_sq`] = { dtype: 'F32', shape: p.shape, data: async () => gpu.readF32(v) };
  }
  await writeCheckpoint(out, state.completedEpochs, {
    optimizer,
    optimizerMeta: { kind: 'adamw', step: String(opt.stepCount) },
    model: modelTensors(gpu, desc, params),
    config: configJson,
    state,
  });
}

async function restoreRun(
  gpu: Gpu,
  out: string,
  desc: ModelDescription,
  previous: LmTrainState,
  opt: Optimizer,
): Promise<ParamStore> {
  await checkCheckpointEpochs(out, [MODEL_FILE, OPTIMIZER_FILE], previous.completedEpochs);
  const src = await openFileSource(pathIn(out, MODEL_FILE));
  let params: ParamStore;
  try {
    params = await ParamStore.load(gpu, desc, await openSafetensors(src));
  } finally {
    await src.close?.();
  }
  const osrc = await openFileSource(pathIn(out, OPTIMIZER_FILE));
  try {
    const st = await openSafetensors(osrc);
    const steps = Number(st.metadata?.step);
    for (const key of params.trainableKeys()) {
      const p = params.get(key);
      opt.restore(
        p,
        [
          gpu.tensor(await st.float32(`${key}.exp_avg`, p.shape), p.shape),
          gpu.tensor(await st.float32(`${key}.exp_avg_sq`, p.shape), p.shape),
        ],
        steps,
      );
    }
  } catch (e) {
    params.dispose();
    throw e;
  } finally {
    await osrc.close?.();
  }
  return params;
}

function limited(w: TextWindows, limit: number | null): TextWindows {
  if (limit === null || limit >= w.windows) return w;
  return { ...w, windows: limit, ids: w.ids.subarray(0, limit * w.seqLen) };
}

export async function trainLmCommand(
  opts: TrainLmOptions,
  deps: { io?: CliIo; gpu?: Gpu; signal?: AbortSignal } = {},
): Promise<TrainLmResult> {
  const io = deps.io ?? processIo;
  const settings = lmSettings(opts);
  const spec = parseDataSpec(opts.data);
  if (spec.kind !== 'text') {
    throw new Error(`--arch llama trains on text: --data text:FILE, not "${opts.data}"`);
  }
  const out = opts.out;
  const previous = await openRunDir(out, !!opts.resume, checkState, (l) => io.stderr(`note: ${l}\n`));
  if (previous) {
    const differ = (Object.keys(FLAG_OF) as (keyof LmRunSettings)[]).filter(
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
  const configJson = llamaConfigJson(settings);
  const config = validateModelConfig(configJson, 'the model flags (--layers, --hidden, --heads, ...)');
  const desc = describeModel(config as LlmConfig);
  const ids = await readTextIds(spec.file);
  const train = limited(textWindows(ids, 'train', settings.seqLen, { name: spec.file }), settings.limit);
  const test = limited(textWindows(ids, 'test', settings.seqLen, { name: spec.file }), settings.limit);
  for (const w of [train, test]) {
    if (w.windows === 0) {
      throw new Error(
        `${spec.file} (${w.split}): ${w.splitTokens} bytes, not one full window of --seq-len ${settings.seqLen}`,
      );
    }
  }
  const steps = lmStepsPerEpoch(train.windows, settings.batch);
  if (settings.warmup >= steps * settings.epochs) {
    throw new Error(
      `--warmup ${settings.warmup} must be below the run's ${steps * settings.epochs} steps ` +
        `(${settings.epochs} epochs × ${steps})`,
    );
  }
  await createRunDir(out);

  const gpu = deps.gpu ?? (await acquireDevice());
  const opt = new Optimizer(gpu, { kind: 'adamw', ...ADAMW_DEFAULTS, weightDecay: settings.weightDecay });
  let params: ParamStore | undefined;
  let net: Llama | undefined;
  try {
    let history: LmEpochSummary[] = [];
    if (previous) {
      params = await restoreRun(gpu, out, desc, previous, opt);
      history = [...previous.history];
      io.stderr(`resuming ${out} after epoch ${previous.completedEpochs}/${settings.epochs}\n`);
    } else params = ParamStore.fromArrays(gpu, desc, initLmArrays(desc, settings.seed));
    net = new Llama(gpu, desc, params);
    const model = net;
    const store = params;
    io.stderr(
      `${desc.name}: ${desc.paramCount} parameters; ${train.windows} train windows of ${settings.seqLen} bytes, ` +
        `${steps} steps per epoch\n`,
    );
    let bar: Progress | undefined;
    const stopBar = () => {
      bar?.stop();
      bar = undefined;
    };
    try {
      await runLmEpochs(gpu, model, store, opt, train, {
        epochs: settings.epochs,
        startEpoch: previous?.completedEpochs ?? 0,
        batch: settings.batch,
        lr: settings.lr,
        warmup: settings.warmup,
        seed: settings.seed,
        lrName: '--lr',
        signal: deps.signal,
        onProgress: (p) => {
          if (p.type === 'epoch-start') {
            stopBar();
            bar = new Progress(io, `epoch ${p.epoch}/${p.epochs}`, p.steps, 'batches', 'tok/s');
          } else bar?.update(p.step, { rate: p.rate, loss: p.loss });
        },
        onEpoch: async (r) => {
          stopBar();
          const label = `epoch ${r.epoch}/${settings.epochs}`;
          const evalBar = new Progress(
            io,
            `${label} test`,
            Math.ceil(test.windows / EVAL_BATCH),
            'batches',
            'tok/s',
          );
          let m: Awaited<ReturnType<typeof evaluatePerplexity>>;
          try {
            m = await evaluatePerplexity(model, test, {
              batch: EVAL_BATCH,
              onProgress: (p) => evalBar.update(Math.ceil(p.windows / EVAL_BATCH), { loss: p.nll }),
            });
          } finally {
            evalBar.stop();
          }
          const summary: LmEpochSummary = { ...r, perplexity: m.perplexity, nll: m.nll };
          history.push(summary);
          await saveCheckpoint(gpu, out, desc, store, opt, configJson, {
            version: 1,
            kind: 'llama',
            completedEpochs: r.epoch,
            step: opt.stepCount,
            stepsPerEpoch: steps,
            settings,
            history,
          });
          io.stderr(
            `${label}: train nll ${r.trainLoss.toFixed(4)} (${r.tokensPerSecond.toFixed(0)} tok/s, ${r.seconds.toFixed(0)} s)  ` +
              `test perplexity ${m.perplexity.toFixed(3)} nll ${m.nll.toFixed(4)}  saved ${out}\n`,
          );
        },
      });
    } finally {
      stopBar();
    }
    const last = history.at(-1);
    if (!last) throw new Error('internal: no epoch was trained');
    const result: TrainLmResult = {
      out,
      epochs: settings.epochs,
      perplexity: last.perplexity,
      nll: last.nll,
      trainLoss: last.trainLoss,
      seconds: history.reduce((s, h) => s + h.seconds, 0),
      history,
    };
    if (opts.json) io.stdout(`${JSON.stringify(result)}\n`);
    else {
      io.stdout(
        `trained ${desc.name} for ${settings.epochs} epochs → ${out}: test perplexity ` +
          `${last.perplexity.toFixed(3)}  nll ${last.nll.toFixed(4)}\n`,
      );
    }
    return result;
  } finally {
    net?.dispose();
    opt.dispose();
    params?.dispose();
    if (!deps.gpu) gpu.destroy();
  }
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
