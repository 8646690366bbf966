// `sglp cka MODEL --data text:FILE [--seq-len T] [--precision f16 | --stream] [--memory-cap BYTES]` on a LLaMA-family model
// directory: the CKA of its decoder layers on the first --samples windows of the train split, --batch
// windows per CKA batch (sglp/calibrate-text.ts, the stage `sglp prune` runs). With --stream the model runs
// one decoder layer at a time, each read from the checkpoint when needed (sglp/calibrate-text-stream.ts:
// same matrix, bit for bit), so it needs far less device memory than the model's weights; --memory-cap
// makes an allocation past BYTES an error (to check that a run fits a smaller device). --stream-per-batch
// streams the model once per CKA batch: one batch's CKA state on the device instead of all batches'.

import { describeModel } from '../arch/describe.js';
import type { Gpu } from '../gpu/device.js';
import type { LlmConfig } from '../io/config.js';
import { parseDataSpec } from '../io/data-spec.js';
import { openCheckpoint } from '../io/safetensors-index.js';
import { textWindows } from '../io/text-data.js';
import { readTokenizer } from '../io/tokenizer.js';
import { Llama } from '../nn/llama.js';
import { ParamStore, type Precision } from '../nn/params.js';
import { acquireDevice } from '../node/device.js';
import { directorySource } from '../node/files.js';
import { calibrateText } from '../sglp/calibrate-text.js';
import { calibrateTextStreamed } from '../sglp/calibrate-text-stream.js';
import type { CkaResult, Estimator } from '../sglp/cka.js';
import { SGLP_TEXT_DEFAULTS } from '../sglp/families/lm/prune.js';
import { checkMemoryCap } from './common.js';
import { readTextFile } from './eval-text.js';
import { checkPrecisionStream, checkPrecisionSupported, parsePrecision } from './precision.js';
import { preflightCka } from './preflight.js';
import { Progress, processIo } from './progress.js';
import type { PruneDeps } from './prune-common.js';

export interface CkaLlmOptions {
  readonly data: string;
  readonly samples?: number;
  readonly batch?: number;
  readonly estimator: Estimator;
  readonly seqLen?: number;
  readonly stream?: boolean;
  readonly streamPerBatch?: boolean;
  readonly memoryCap?: number;
  /** Weight matrices on the device as f32 (default) or f16; the streamed path runs f32 only. */
  readonly precision?: string;
  /** Also write the JSON here (checked before the device). */
  readonly out?: string;
}

/** The CKA of a language model's decoder layers, with the device memory the run peaked at. */
export async function ckaLlm(
  model: string,
  config: LlmConfig,
  opts: CkaLlmOptions,
  deps: PruneDeps = {},
): Promise<{ cka: CkaResult; samples: number; peakBytes: number }> {
  const io = deps.io ?? processIo;
  const spec = parseDataSpec(opts.data);
  if (spec.kind !== 'text') {
    throw new Error(
      `${model} is a language model (${config.architecture}): --data must be text:FILE, got "${opts.data}"`,
    );
  }
  const precision = parsePrecision(opts.precision);
  checkPrecisionStream(
    precision,
    opts.streamPerBatch ? '--stream-per-batch' : opts.stream ? '--stream' : undefined,
  );
  // Batch against samples, --seq-len against the model and --out FILE, before the device (preflight.ts).
  const notes = await preflightCka(opts, SGLP_TEXT_DEFAULTS, {
    what: 'windows',
    model,
    maxPositions: config.max_position_embeddings,
  });
  for (const note of notes) io.stderr(`note: ${note}\n`);
  const seqLen = opts.seqLen ?? SGLP_TEXT_DEFAULTS.seqLen;
  const samples = opts.samples ?? SGLP_TEXT_DEFAULTS.samples;
  const batch = opts.batch ?? SGLP_TEXT_DEFAULTS.batch;
  const dir = directorySource(model);
  const desc = describeModel(config);
  const tokenizer = await readTokenizer(dir);
  const train = textWindows(tokenizer.encode(await readTextFile(spec.file)), 'train', seqLen, {
    name: spec.file,
  });
  const cap = opts.memoryCap;
  checkMemoryCap(cap);
  const gpu = deps.gpu ?? (await acquireDevice(cap === undefined ? {} : { memoryCap: cap }));
  const capBefore = gpu.pool.memoryCap;
  if (deps.gpu && cap !== undefined) gpu.pool.memoryCap = cap;
  const store = await openCheckpoint(dir);
  const stream = opts.stream || opts.streamPerBatch;
  const batches = Math.ceil(samples / batch);
  const total = stream ? desc.units.length * (opts.streamPerBatch ? batches : 1) : batches;
  const progress = new Progress(io, stream ? 'decoder layers (streamed)' : 'calibration + CKA', total);
  const calibration = { windows: samples, batchWindows: batch, estimator: opts.estimator };
  try {
    const peakBefore = gpu.pool.peakBytes;
    gpu.pool.resetPeak();
    let cka: CkaResult;
    if (stream) {
      ({ cka } = await calibrateTextStreamed(gpu, desc, store, train, {
        ...calibration,
        perBatch: opts.streamPerBatch ?? false,
        onProgress: (done) => progress.update(done),
        ...(deps.signal ? { signal: deps.signal } : {}),
      }));
    } else cka = await loaded(gpu, desc, store, train, calibration, progress, deps.signal, precision);
    const peakBytes = gpu.pool.peakBytes;
    gpu.pool.peakBytes = Math.max(peakBefore, peakBytes);
    return { cka, samples, peakBytes };
  } finally {
    progress.stop();
    await store.close();
    if (deps.gpu) gpu.pool.memoryCap = capBefore;
    else gpu.destroy();
  }
}

/** The whole model on the device, as `sglp prune` runs calibration. */
async function loaded(
  gpu: Gpu,
  desc: ReturnType<typeof describeModel>,
  store: Awaited<ReturnType<typeof openCheckpoint>>,
  train: ReturnType<typeof textWindows>,
  calibration: { windows: number; batchWindows: number; estimator: Estimator },
  progress: Progress,
  signal: AbortSignal | undefined,
  precision: Precision,
): Promise<CkaResult> {
  checkPrecisionSupported(gpu, precision);
  const params = await ParamStore.load(gpu, desc, store, { precision });
  const net = new Llama(gpu, desc, params);
  try {
    const { cka } = await calibrateText(gpu, net, train, {
      ...calibration,
      onProgress: (done) => progress.update(done),
      ...(signal ? { signal } : {}),
    });
    return cka;
  } finally {
    net.dispose();
    params.dispose();
  }
}
