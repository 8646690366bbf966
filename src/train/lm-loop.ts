// Training loop of LLaMA-family LMs (`sglp train --arch llama`): per step a train-mode forward over a batch
// of windows [B, T], mean next-token NLL, backward, one AdamW step at a linear-warmup + cosine learning rate.
// The window order of every epoch is a seeded shuffle derived from (seed, epoch), so a run resumed from
// startEpoch repeats the uninterrupted one. Evaluation and checkpoints are the caller's, through onEpoch.

import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import { Rng } from '../io/prng.js';
import type { TextWindows } from '../io/text-data.js';
import type { LlamaLoss } from '../nn/llama.js';
import { NonFiniteLossError, type TrainableParams } from './loop.js';
import type { Optimizer } from './optimizer.js';
import { cosineLr } from './schedule.js';

/** Random stream numbers (with seed and epoch): window order; the initial weights use (seed, 0, INIT). */
const SHUFFLE_STREAM = 11;
const INIT_STREAM = 12;

/** Hugging Face's LlamaConfig.initializer_range: linear and embedding weights ~ N(0, 0.02²). */
export const LM_INIT_STD = 0.02;

/**
 * Initial weights as transformers' LlamaPreTrainedModel._init_weights: every matrix N(0, std²), biases 0,
 * RMSNorm weights 1. Seeded and platform independent (Box–Muller on mulberry32).
 */
export function initLmArrays(
  desc: ModelDescription,
  seed: number,
  std = LM_INIT_STD,
): Record<string, Float32Array> {
  const rng = Rng.derive(seed, 0, INIT_STREAM);
  const arrays: Record<string, Float32Array> = {};
  for (const p of desc.params) {
    const n = p.shape.reduce((a, d) => a * d, 1);
    const a = new Float32Array(n);
    if (p.kind === 'weight' && p.shape.length > 1) {
      for (let i = 0; i < n; i += 2) {
        const u1 = 1 - rng.float();
        const u2 = rng.float();
        const r = std * Math.sqrt(-2 * Math.log(u1));
        a[i] = r * Math.cos(2 * Math.PI * u2);
        if (i + 1 < n) a[i + 1] = r * Math.sin(2 * Math.PI * u2);
      }
    } else if (p.kind === 'weight') a.fill(1);
    arrays[p.key] = a;
  }
  return arrays;
}

/** Linear warmup from lr/warmup to lr over `warmup` steps, then cosine decay to 0 at `total`. */
export function warmupCosineLr(base: number, step: number, warmup: number, total: number): number {
  if (step < warmup) return (base * (step + 1)) / warmup;
  return cosineLr(base, step - warmup, total - warmup);
}

/** The window indices of an epoch in training order. */
export function windowOrder(windows: number, seed: number, epoch: number): Uint32Array {
  const order = new Uint32Array(windows);
  for (let i = 0; i < windows; i++) order[i] = i;
  return Rng.derive(seed, epoch, SHUFFLE_STREAM).shuffle(order);
}

/** Steps per epoch: every window once, the last batch possibly smaller. */
export function lmStepsPerEpoch(windows: number, batch: number): number {
  return Math.ceil(windows / batch);
}

/** What the loop needs of a model (Llama has it). */
export interface TrainableLm {
  readonly desc: { readonly name: string };
  nextTokenLoss(
    ids: ArrayLike<number>,
    batch: number,
    seq: number,
    opts: { grads: true },
  ): Promise<LlamaLoss>;
}

export interface LmLoopOptions {
  readonly epochs: number;
  /** Epochs already done (a resumed run); default 0. */
  readonly startEpoch?: number;
  /** Windows per step. */
  readonly batch: number;
  /** Peak learning rate. */
  readonly lr: number;
  /** Linear warmup steps before the cosine decay (over the remaining steps of the whole run). */
  readonly warmup: number;
  readonly seed: number;
  /** How the learning rate is called in a NaN-loss error (the CLI says `--lr`). */
  readonly lrName?: string;
  /** Stop after this many steps of the first epoch run (smoke tests, benchmarks); the epoch is not recorded. */
  readonly maxSteps?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: LmLoopProgress) => void;
  /** Awaited after every epoch (evaluation, checkpoints). */
  readonly onEpoch?: (record: LmEpochRecord) => void | Promise<void>;
}

export interface LmLoopProgress {
  readonly type: 'epoch-start' | 'step';
  /** 1-based. */
  readonly epoch: number;
  readonly epochs: number;
  readonly step: number;
  readonly steps: number;
  /** Mean NLL of the epoch so far (nats per predicted token), tokens per second. */
  readonly loss: number;
  readonly rate: number;
}

export interface LmEpochRecord {
  /** 1-based. */
  readonly epoch: number;
  /** Mean training NLL over the epoch's predicted tokens. */
  readonly trainLoss: number;
  /** Learning rate of the epoch's last step. */
  readonly lr: number;
  readonly steps: number;
  readonly seconds: number;
  /** Window tokens (B·T) per second, forward + backward + update. */
  readonly tokensPerSecond: number;
}

/** Runs epochs startEpoch+1 … epochs of the schedule. */
export async function runLmEpochs(
  gpu: Gpu,
  model: TrainableLm,
  params: TrainableParams,
  opt: Optimizer,
  data: TextWindows,
  o: LmLoopOptions,
): Promise<LmEpochRecord[]> {
  const { batch, epochs } = o;
  const T = data.seqLen;
  if (data.windows === 0) {
    throw new Error(`${data.name} (${data.split}): no full window of ${T} tokens in ${data.splitTokens}`);
  }
  const steps = lmStepsPerEpoch(data.windows, batch);
  const total = steps * epochs;
  if (o.warmup >= total) {
    throw new Error(
      `--warmup ${o.warmup} must be below the run's ${total} steps (${epochs} epochs × ${steps})`,
    );
  }
  const keys = params.trainableKeys();
  const tensors = keys.map((k) => params.get(k));
  const ids = new Int32Array(batch * T);
  const records: LmEpochRecord[] = [];
  for (let e = o.startEpoch ?? 0; e < epochs; e++) {
    const order = windowOrder(data.windows, o.seed, e);
    const start = performance.now();
    let sum = 0;
    let count = 0;
    let lr = 0;
    let tokens = 0;
    const stop = o.maxSteps === undefined ? steps : Math.min(steps, o.maxSteps);
    o.onProgress?.({ type: 'epoch-start', epoch: e + 1, epochs, step: 0, steps, loss: 0, rate: 0 });
    for (let s = 0; s < stop; s++) {
      o.signal?.throwIfAborted();
      const b = Math.min(batch, data.windows - s * batch);
      for (let j = 0; j < b; j++) {
        const w = order[s * batch + j];
        ids.set(data.ids.subarray(w * T, (w + 1) * T), j * T);
      }
      const r = await model.nextTokenLoss(ids.subarray(0, b * T), b, T, { grads: true });
      const grads = r.grads;
      if (!grads) throw new Error(`${model.desc.name}: nextTokenLoss returned no gradients`);
      try {
        if (!Number.isFinite(r.nll)) {
          throw new NonFiniteLossError(e + 1, epochs, s + 1, r.nll, o.lrName ?? 'learning rate');
        }
        lr = warmupCosineLr(o.lr, e * steps + s, o.warmup, total);
        opt.step(
          tensors,
          keys.map((k) => {
            const g = grads.get(k);
            if (!g) throw new Error(`${model.desc.name}: no gradient for "${k}"`);
            return g;
          }),
          lr,
        );
      } finally {
        for (const g of grads.values()) g.dispose();
      }
      sum += r.sum;
      count += r.tokens;
      tokens += b * T;
      const seconds = (performance.now() - start) / 1000;
      o.onProgress?.({
        type: 'step',
        epoch: e + 1,
        epochs,
        step: s + 1,
        steps,
        loss: sum / count,
        rate: tokens / seconds,
      });
    }
    // The optimiser's updates are queued; wait for them so the timing covers them.
    await gpu.sync();
    const seconds = (performance.now() - start) / 1000;
    if (stop < steps) break;
    const record: LmEpochRecord = {
      epoch: e + 1,
      trainLoss: sum / count,
      lr,
      steps,
      seconds,
      tokensPerSecond: tokens / seconds,
    };
    records.push(record);
    await o.onEpoch?.(record);
  }
  return records;
}
