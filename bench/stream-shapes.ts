// Streamed SGLP stages on a (generated, real-shape) LLaMA-family model directory, timed stage by stage:
//   node dist/stream-shapes.js --model DIR --data text:FILE [--seq-len 128] [--windows 16] [--batch 4]
//     [--gradnorm-batches 2] [--gradnorm-batch-size 4] [--memory-cap BYTES] [--host-states]
//     [--skip cka,loss,grad] [--head-rows N] [--head-slice-rows V] [--json FILE]
// Stages: tokenise; CKA (calibrateTextStreamed, what `sglp cka --stream` runs); loss of the GradNorm
// batches (forward through every layer and the LM head: forward tokens/s); one GradNorm candidate
// (streamLlamaLoss with grads: forward, head, backward with recomputation: forward+backward tokens/s).
// Each stage reports its wall time, peak device memory (pool accounting) against the cap, the largest
// upload and the bytes read from the checkpoint; the process's peak RSS is sampled every 50 ms (run under
// `/usr/bin/time -v` for the kernel's figure). Random weights: cost and memory, not quality. The LM head is
// used in vocabulary slices when it exceeds one storage binding or a quarter of the cap (llama-head-sliced.ts;
// `--head-slice-rows` forces a width); the output's protocol.headSliceRows says which.
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { describeModel } from '../src/arch/describe.js';
import { validateModelConfig } from '../src/io/config.js';
import { parseDataSpec } from '../src/io/data-spec.js';
import { openCheckpoint } from '../src/io/safetensors-index.js';
import { textWindows } from '../src/io/text-data.js';
import { readTokenizer } from '../src/io/tokenizer.js';
import { headSliceRows } from '../src/nn/llama-head-sliced.js';
import type { TokenBatch } from '../src/nn/llama-stream.js';
import { streamLlamaLoss } from '../src/nn/llama-stream-grad.js';
import { acquireDevice } from '../src/node/device.js';
import { directorySource } from '../src/node/files.js';
import { calibrateTextStreamed } from '../src/sglp/calibrate-text-stream.js';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' },
    data: { type: 'string' },
    'seq-len': { type: 'string', default: '128' },
    windows: { type: 'string', default: '16' },
    batch: { type: 'string', default: '4' },
    'gradnorm-batches': { type: 'string', default: '2' },
    'gradnorm-batch-size': { type: 'string', default: '4' },
    'memory-cap': { type: 'string' },
    'host-states': { type: 'boolean', default: false },
    skip: { type: 'string', default: '' },
    'head-rows': { type: 'string' },
    'head-slice-rows': { type: 'string' },
    json: { type: 'string' },
  },
});
if (!a.model || !a.data) throw new Error('--model DIR and --data text:FILE are required');
const spec = parseDataSpec(a.data);
if (spec.kind !== 'text') throw new Error('--data must be text:FILE');
const T = Number(a['seq-len']);
const windows = Number(a.windows);
const per = Number(a.batch);
const gBatches = Number(a['gradnorm-batches']);
const gSize = Number(a['gradnorm-batch-size']);
const cap = a['memory-cap'] === undefined ? undefined : Number(a['memory-cap']);
const skip = new Set(a.skip.split(',').filter(Boolean));
const hostStates = a['host-states'];
// Token rows per LM-head slice; by default what one storage binding holds (on lavapipe 682 rows of a
// 49,152 vocabulary: 134 MB of logits per slice, which then sets the GradNorm's device peak).
const headRows = {
  ...(a['head-rows'] === undefined ? {} : { headRows: Number(a['head-rows']) }),
  ...(a['head-slice-rows'] === undefined ? {} : { headSliceRows: Number(a['head-slice-rows']) }),
};

let rssPeak = process.memoryUsage().rss;
const sampler = setInterval(() => {
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
}, 50);
const log = (s: string) => process.stderr.write(`stream-shapes: ${s}\n`);

const t0 = performance.now();
const dir = directorySource(a.model);
const config = validateModelConfig(JSON.parse(await readFile(`${a.model}/config.json`, 'utf8')));
const desc = describeModel(config);
if (desc.architecture !== 'llama') throw new Error(`${a.model} is not a LLaMA-family model`);
const net = desc.net;
const tokenizer = await readTokenizer(dir);
const ids = tokenizer.encode(await readFile(spec.file, 'utf8'));
const train = textWindows(ids, 'train', T, { name: spec.file });
const tokenizeMs = performance.now() - t0;
log(
  `${desc.name}: ${desc.paramCount.toLocaleString('en')} params; tokenised ${ids.length} tokens in ${tokenizeMs.toFixed(0)} ms`,
);

const gpu = await acquireDevice(cap === undefined ? {} : { memoryCap: cap });
const store = await openCheckpoint(dir);
const stages: Record<string, unknown>[] = [];
const pool = gpu.pool;

async function stage<R>(name: string, tokens: number, passes: number, body: () => Promise<R>): Promise<R> {
  pool.trim();
  pool.resetPeak();
  const rss0 = rssPeak;
  const s = performance.now();
  const cpu0 = process.cpuUsage();
  const r = await body();
  const ms = performance.now() - s;
  const cpu = process.cpuUsage(cpu0);
  const mem = r as { memory?: { peakBytes: number; largestUploadBytes: number; streamedBytes: number } } & {
    peakBytes?: number;
    largestUploadBytes?: number;
    streamedBytes?: number;
  };
  const m = mem.memory ?? mem;
  const row = {
    stage: name,
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    tokens,
    // Token rows through the whole model per second, counting every pass (forward = 1, +backward = 2 more).
    tokensPerS: (tokens / ms) * 1000,
    passes,
    peakDeviceBytes: pool.peakBytes,
    memoryCap: cap ?? null,
    largestUploadBytes: m.largestUploadBytes,
    streamedBytes: m.streamedBytes,
    rssPeakBytesSoFar: Math.max(rss0, rssPeak),
  };
  stages.push(row);
  log(JSON.stringify(row));
  return r;
}

const gradBatches: TokenBatch[] = [];
for (let b = 0; b < gBatches; b++) {
  gradBatches.push({ ids: train.ids.subarray(b * gSize * T, (b + 1) * gSize * T), batch: gSize, seq: T });
}
const result: Record<string, unknown> = {};
try {
  if (!skip.has('cka')) {
    const r = await stage('cka (calibrateTextStreamed)', windows * T, 1, () =>
      calibrateTextStreamed(gpu, desc, store, train, { windows, batchWindows: per, hostStates }),
    );
    result.ckaFirstRow = r.cka.matrix[0].slice(0, 4);
  }
  if (!skip.has('loss')) {
    const r = await stage('loss (forward + LM head)', gBatches * gSize * T, 1, () =>
      streamLlamaLoss(gpu, desc, store, gradBatches, { hostStates, ...headRows }),
    );
    result.nll = r.batches.map((b) => b.nll);
  }
  if (!skip.has('grad')) {
    const r = await stage(
      'one GradNorm candidate (forward + backward, recomputed)',
      gBatches * gSize * T,
      3,
      () => streamLlamaLoss(gpu, desc, store, gradBatches, { grads: true, hostStates, ...headRows }),
    );
    result.gradNorm = r.batches.map((b) => b.gradNorm);
  }
} finally {
  await store.close();
  gpu.destroy();
  clearInterval(sampler);
}
const out = {
  model: a.model,
  name: desc.name,
  params: desc.paramCount,
  layers: net.layers.length,
  adapter: gpu.adapter,
  protocol: {
    seqLen: T,
    windows,
    batch: per,
    gradnormBatches: gBatches,
    gradnormBatchSize: gSize,
    hostStates,
    ...headRows,
    // Vocabulary rows per LM head slice as the loss and GradNorm stages chose them (null: the whole head).
    headSliceRows: headSliceRows(gpu, net.vocab, net.hidden, headRows.headSliceRows) ?? null,
  },
  tokenizeMs,
  stages,
  rssPeakBytes: rssPeak,
  result,
  date: new Date().toISOString(),
};
if (a.json) await writeFile(a.json, `${JSON.stringify(out, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit();
