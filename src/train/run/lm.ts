// The causal LM's part of a training run (manager.ts): a byte-level (vocabulary 256, no tokenizer.json)
// LlamaForCausalLM from transformers' initialisation, trained with AdamW and a linear-warmup + cosine
// learning rate on seeded shuffles of the train split's windows (lm-loop.ts), its test-split perplexity
// measured after every epoch. The checkpoint holds AdamW's moments and config.json in Hugging Face layout
// (tied embeddings).

import { describeModel } from '../../arch/describe.js';
import { evaluatePerplexity, type PerplexityMetrics } from '../../eval/perplexity.js';
import { type LlmConfig, validateModelConfig } from '../../io/config.js';
import type { TensorToWrite } from '../../io/safetensors-write.js';
import { type TextWindows, textWindows } from '../../io/text-data.js';
import { byteTokenizer } from '../../io/tokenizer.js';
import { Llama } from '../../nn/llama.js';
import { ParamStore } from '../../nn/params.js';
import { lmTraining } from '../../tunables.js';
import { initLmArrays, type LmEpochRecord, lmStepsPerEpoch, runLmEpochs } from '../lm-loop.js';
import { ADAMW_DEFAULTS, Optimizer } from '../optimizer.js';
import { modelTensors, type TrainerFamily, type TrainPlan, type TrainState } from './manager.js';
import type { Naming } from './naming.js';
import { intOption, numberOption } from './naming.js';

/** The text of a run, byte-level: `name` is what the settings record (the CLI's `text:FILE`). */
export interface LmTrainData {
  readonly name: string;
  readonly bytes: Uint8Array;
  /** What messages call the text (default `name`). */
  readonly source?: string;
}

export interface LmTrainOptions {
  readonly layers?: number;
  readonly hidden?: number;
  readonly heads?: number;
  readonly kvHeads?: number;
  readonly intermediate?: number;
  readonly seqLen?: number;
  /** Windows per step. */
  readonly batch?: number;
  readonly epochs: number;
  readonly lr?: number;
  /** Linear warmup steps. */
  readonly warmup?: number;
  readonly weightDecay?: number;
  readonly seed?: number;
  /** Only the first N train and N test windows. */
  readonly limit?: number;
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

export interface LmEpochSummary extends LmEpochRecord {
  /** Test-split perplexity and mean NLL after the epoch. */
  readonly perplexity: number;
  readonly nll: number;
}

export interface LmTrainResult {
  readonly epochs: number;
  readonly perplexity: number;
  readonly nll: number;
  readonly trainLoss: number;
  readonly seconds: number;
  readonly history: LmEpochSummary[];
}

function lmSettings(o: LmTrainOptions, dataName: string, naming: Naming): LmRunSettings {
  const d = TRAIN_LM_DEFAULTS;
  const int = (v: number, field: string, min: number) => intOption(v, field, min, naming);
  const { of } = naming;
  const heads = int(o.heads ?? d.heads, 'heads', 1);
  const hidden = int(o.hidden ?? d.hidden, 'hidden', 1);
  const kvHeads = int(o.kvHeads ?? heads, 'kvHeads', 1);
  if (hidden % heads !== 0)
    throw new Error(`${of('hidden')} ${hidden} is not a multiple of ${of('heads')} ${heads}`);
  if (heads % kvHeads !== 0)
    throw new Error(`${of('kvHeads')} ${kvHeads} does not divide ${of('heads')} ${heads}`);
  const lr = numberOption(o.lr ?? d.lr, 'lr', false, naming);
  const weightDecay = numberOption(o.weightDecay ?? d.weightDecay, 'weightDecay', true, naming);
  return {
    arch: 'llama',
    layers: int(o.layers ?? d.layers, 'layers', 1),
    hidden,
    heads,
    kvHeads,
    intermediate: int(o.intermediate ?? d.intermediate, 'intermediate', 1),
    data: dataName,
    limit: o.limit === undefined ? null : int(o.limit, 'limit', 1),
    seqLen: int(o.seqLen ?? d.seqLen, 'seqLen', 2),
    batch: int(o.batch ?? d.batch, 'batch', 1),
    epochs: int(o.epochs, 'epochs', 1),
    lr,
    warmup: int(o.warmup ?? d.warmup, 'warmup', 0),
    weightDecay,
    seed: int(o.seed ?? d.seed, 'seed', 0),
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

function limited(w: TextWindows, limit: number | null): TextWindows {
  if (limit === null || limit >= w.windows) return w;
  return { ...w, windows: limit, ids: w.ids.subarray(0, limit * w.seqLen) };
}

function lmPlan(s: LmRunSettings, data: LmTrainData, naming: Naming): TrainPlan<LmEpochSummary> {
  const { of } = naming;
  const configJson = llamaConfigJson(s);
  const names = ['layers', 'hidden', 'heads'].map(of).join(', ');
  const config = validateModelConfig(configJson, `the model ${naming.kind} (${names}, ...)`);
  const desc = describeModel(config as LlmConfig);
  const source = data.source ?? data.name;
  const windows = (split: 'train' | 'test') =>
    limited(textWindows(data.bytes, split, s.seqLen, { name: source }), s.limit);
  const [train, test] = [windows('train'), windows('test')];
  for (const w of [train, test]) {
    if (w.windows === 0) {
      throw new Error(
        `${source} (${w.split}): ${w.splitTokens} bytes, not one full window of ${of('seqLen')} ${s.seqLen}`,
      );
    }
  }
  const steps = lmStepsPerEpoch(train.windows, s.batch);
  if (s.warmup >= steps * s.epochs) {
    throw new Error(
      `${of('warmup')} ${s.warmup} must be below the run's ${steps * s.epochs} steps (${s.epochs} epochs × ${steps})`,
    );
  }
  const start: TrainPlan<LmEpochSummary>['start'] = async (gpu, restore) => {
    const opt = new Optimizer(gpu, { kind: 'adamw', ...ADAMW_DEFAULTS, weightDecay: s.weightDecay });
    let params: ParamStore | undefined;
    try {
      if (restore) {
        params = await ParamStore.load(gpu, desc, restore.model);
        const st = restore.optimizer;
        const stepCount = Number(st.metadata?.step);
        for (const key of params.trainableKeys()) {
          const p = params.get(key);
          const state = [
            gpu.tensor(await st.float32(`${key}.exp_avg`, p.shape), p.shape),
            gpu.tensor(await st.float32(`${key}.exp_avg_sq`, p.shape), p.shape),
          ];
          opt.restore(p, state, stepCount);
        }
      } else params = ParamStore.fromArrays(gpu, desc, initLmArrays(desc, s.seed));
    } catch (e) {
      params?.dispose();
      opt.dispose();
      throw e;
    }
    const store = params;
    const net = new Llama(gpu, desc, store);
    return {
      async run(startEpoch, hooks) {
        const emit = (p: Parameters<NonNullable<typeof hooks.onProgress>>[0]) => hooks.onProgress?.(p);
        emit({
          type: 'start',
          model: desc.name,
          params: desc.paramCount,
          samples: train.windows,
          stepsPerEpoch: steps,
        });
        await runLmEpochs(gpu, net, store, opt, train, {
          epochs: s.epochs,
          startEpoch,
          batch: s.batch,
          lr: s.lr,
          warmup: s.warmup,
          seed: s.seed,
          lrName: of('lr'),
          signal: hooks.signal,
          onProgress: (p) =>
            p.type === 'epoch-start'
              ? emit({ type: p.type, epoch: p.epoch, epochs: p.epochs, steps: p.steps, rateUnit: 'tok/s' })
              : emit({ type: 'step', epoch: p.epoch, step: p.step, loss: p.loss, rate: p.rate }),
          onEpoch: async (r) => {
            const epoch = r.epoch;
            const batches = Math.ceil(test.windows / EVAL_BATCH);
            emit({ type: 'eval-start', epoch, epochs: s.epochs, steps: batches, rateUnit: 'tok/s' });
            let m: PerplexityMetrics;
            try {
              m = await evaluatePerplexity(net, test, {
                batch: EVAL_BATCH,
                onProgress: (p) =>
                  emit({ type: 'eval', epoch, step: Math.ceil(p.windows / EVAL_BATCH), loss: p.nll }),
              });
            } finally {
              emit({ type: 'eval-end', epoch });
            }
            await hooks.onEpoch({ ...r, perplexity: m.perplexity, nll: m.nll });
          },
        });
      },
      checkpoint() {
        const optimizer: Record<string, TensorToWrite> = {};
        for (const key of store.trainableKeys()) {
          const p = store.get(key);
          const [m, v] = opt.stateFor(p);
          optimizer[`${key}.exp_avg`] = { dtype: 'F32', shape: p.shape, data: async () => gpu.readF32(m) };
          optimizer[`${key}.exp_avg_sq`] = { dtype: 'F32', shape: p.shape, data: async () => gpu.readF32(v) };
        }
        const step = opt.stepCount;
        const optimizerMeta = { kind: 'adamw', step: String(step) };
        return { optimizer, optimizerMeta, model: modelTensors(gpu, desc, store), step };
      },
      dispose() {
        net.dispose();
        opt.dispose();
        store.dispose();
      },
    };
  };
  return { configJson, stepsPerEpoch: steps, start };
}

function checkState(state: unknown, file: string): TrainState<LmRunSettings, LmEpochSummary> {
  const st = state as TrainState<LmRunSettings, LmEpochSummary> | null;
  if (st?.version !== 1 || st.kind !== 'llama' || !st.settings) {
    throw new Error(`${file}: not a language-model train state this version of sglp wrote`);
  }
  return st;
}

export const lmTrainer: TrainerFamily<
  LmTrainOptions,
  LmTrainData,
  LmRunSettings,
  LmEpochSummary,
  LmTrainResult
> = {
  stateKind: 'llama',
  checkState,
  check: (o, naming) => void lmSettings(o, '', naming),
  settings: (o, data, naming) => lmSettings(o, data.name, naming),
  plan: lmPlan,
  result(s, history, last) {
    return {
      epochs: s.epochs,
      perplexity: last.perplexity,
      nll: last.nll,
      trainLoss: last.trainLoss,
      seconds: history.reduce((sum, h) => sum + h.seconds, 0),
      history,
    };
  },
};
