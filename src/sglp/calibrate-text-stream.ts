// calibrateText with layer streaming (nn/llama-stream.ts): the same windows, batches and CKA, but the model
// runs layer-major, one decoder layer's weights on the device at a time, read from the checkpoint on demand.
// Each batch has its own CKA accumulator (every batch's per-layer Grams arrive interleaved); at the end the
// per-batch CKA matrices are averaged in batch order in f64 exactly as CkaAccumulator.result() does, so the
// result equals calibrateText's (test/nn/llama-stream.test.ts checks bit equality).
// Device memory: one layer's weights, the batches' hidden states (unless `hostStates`), and per batch the
// accumulator's L·n² floats. With `perBatch` the whole stream runs once per batch instead (the checkpoint is
// read once per batch): one batch's state and one accumulator, as calibrateText holds.

import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import type { TensorStore } from '../io/safetensors.js';
import type { TextWindows } from '../io/text-data.js';
import { type LlamaStreamResult, streamLlamaLayers } from '../nn/llama-stream.js';
import { FeatureSinks } from './calibrate.js';
import {
  type TextCalibrationOptions,
  type TextCalibrationResult,
  textBatches,
  textCalibrationSettings,
} from './calibrate-text.js';
import { CkaAccumulator, type CkaResult } from './cka.js';

/**
 * Observers (the block-influence / angular baselines) see batch after batch, so with observers the stream
 * runs once per batch (`perBatch`): the embedding output through `input`, then every layer's output.
 */
export interface StreamedTextCalibrationOptions extends TextCalibrationOptions {
  /** Keep hidden states on the CPU between layers (less device memory, one read + upload per layer). */
  readonly hostStates?: boolean;
  /** Stream the model once per batch: one batch's CKA state on the device instead of all batches'. */
  readonly perBatch?: boolean;
}

export interface StreamedTextCalibrationResult extends TextCalibrationResult {
  readonly memory: LlamaStreamResult;
}

/** The CKA of calibrateText for a checkpoint read layer by layer; `forwardPasses` counts batches. */
export async function calibrateTextStreamed(
  gpu: Gpu,
  desc: ModelDescription,
  store: TensorStore,
  train: TextWindows,
  options: StreamedTextCalibrationOptions = {},
): Promise<StreamedTextCalibrationResult> {
  const { windows, per, estimator } = textCalibrationSettings(train, options);
  const T = train.seqLen;
  const batches = textBatches(train, windows, per);
  const units = desc.units.map((u) => u.name);
  const stream = {
    ...(options.hostStates ? { hostStates: true } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const observers = options.observers ?? [];
  if (options.perBatch || observers.length > 0) {
    const acc = new CkaAccumulator(gpu, { units, estimator });
    const sinks = new FeatureSinks(acc, observers);
    const L = desc.units.length;
    let memory: LlamaStreamResult = { peakBytes: 0, largestUploadBytes: 0, streamedBytes: 0 };
    let featuresMs = 0;
    let ckaMs = 0;
    try {
      for (let i = 0; i < batches.length; i++) {
        const ta = performance.now();
        sinks.beginBatch(batches[i].batch * T);
        const visit = (u: number, _: number, h: Tensor) => sinks.capture(u, h);
        const m = await streamLlamaLayers(gpu, desc, store, [batches[i]], visit, {
          ...stream,
          ...(sinks.wantsInput ? { onInput: (_: number, x0: Tensor) => sinks.input(x0) } : {}),
          onProgress: (done) => options.onProgress?.(i * L + done, batches.length * L),
        });
        const tb = performance.now();
        await sinks.endBatch();
        featuresMs += tb - ta;
        ckaMs += performance.now() - tb;
        memory = {
          peakBytes: Math.max(memory.peakBytes, m.peakBytes),
          largestUploadBytes: Math.max(memory.largestUploadBytes, m.largestUploadBytes),
          streamedBytes: memory.streamedBytes + m.streamedBytes,
        };
      }
      return { cka: acc.result(), featuresMs, ckaMs, forwardPasses: batches.length, memory };
    } finally {
      acc.dispose();
    }
  }
  const accs: CkaAccumulator[] = [];
  try {
    for (const b of batches) {
      const acc = new CkaAccumulator(gpu, { units, estimator });
      accs.push(acc);
      acc.beginBatch(b.batch * T);
    }
    const ta = performance.now();
    const memory = await streamLlamaLayers(
      gpu,
      desc,
      store,
      batches,
      (unit, i, hidden) => accs[i].addUnit(unit, hidden),
      { ...stream, ...(options.onProgress ? { onProgress: options.onProgress } : {}) },
    );
    const tb = performance.now();
    const L = units.length;
    const sum = new Float64Array(L * L);
    for (const acc of accs) {
      const { cka } = await acc.endBatch();
      for (let i = 0; i < L; i++) for (let j = 0; j < L; j++) sum[i * L + j] += cka[i][j];
    }
    const cka: CkaResult = {
      units,
      matrix: Array.from({ length: L }, (_, i) =>
        Array.from({ length: L }, (_, j) => (i === j ? 1 : sum[i * L + j] / batches.length)),
      ),
      batches: batches.length,
      estimator,
      batchSize: batches[0].batch * T,
    };
    return {
      cka,
      featuresMs: tb - ta,
      ckaMs: performance.now() - tb,
      forwardPasses: batches.length,
      memory,
    };
  } finally {
    for (const acc of accs) acc.dispose();
  }
}
