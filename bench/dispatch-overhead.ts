// Dispatch overhead: how much of a step is the CPU recording commands rather than the GPU running them.
// 1. Empty-ish dispatches (an elementwise add of 64 values) recorded back to back: JS time per dispatch.
// 2. One LLaMA decoder layer (bench/llama-layer.ts's model) forward and forward + backward at a decode-like
//    shape (B 1, T 16) and the fortunes training shape (B 16, T 128): dispatches and submits per step, the
//    JS time until the step returns (recording, with the submits it triggers) and the whole step to idle.
// Every case runs with one compute pass per dispatch and with one pass per batch (batching.sharedPass),
// alternating, in the same process.
// On a discrete GPU, where a kernel takes microseconds, JS time per dispatch × dispatches per step is the
// floor of a step; on lavapipe the kernels dominate.
// Usage (from the repo root):
//   npm run bench:dispatch [-- --reps N] [-- --json FILE]   (bundles it like this:)
//   npx esbuild bench/dispatch-overhead.ts --bundle --platform=node --format=esm --external:webgpu \
//     --main-fields=module,main --loader:.wgsl=text --log-level=warning --outfile=dist/bench-dispatch.js \
//     "--banner:js=import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" \
//   && node dist/bench-dispatch.js [--reps N] [--json FILE]
import { writeFileSync } from 'node:fs';
import { describeModel } from '../src/arch/describe.js';
import type { Gpu } from '../src/gpu/device.js';
import { type LlmConfig, validateModelConfig } from '../src/io/config.js';
import { Llama } from '../src/nn/llama.js';
import { ParamStore } from '../src/nn/params.js';
import { acquireDevice } from '../src/node/device.js';
import { binary } from '../src/ops/elementwise/elementwise.js';
import { initLmArrays } from '../src/train/lm-loop.js';
import { batching } from '../src/tunables.js';

const args = process.argv.slice(2);
const reps = args.includes('--reps') ? Number(args[args.indexOf('--reps') + 1]) : 5;
const jsonPath = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;

const median = (x: number[]) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)];

interface Step {
  dispatches: number;
  submits: number;
  /** Until the step's function returned: recording (bind groups, passes, uniforms) and its submits. */
  jsMs: number;
  /** Until the GPU was idle again. */
  totalMs: number;
}

const defaults = batching.sharedPass;
const setShared = (shared: boolean) => {
  batching.sharedPass = { cpu: shared, gpu: shared };
};

/** Runs `step` reps times per setting of batching.sharedPass (alternating ABBA, one warm-up each): medians. */
async function measure(
  gpu: Gpu,
  step: () => Promise<void> | void,
): Promise<Record<'perDispatch' | 'shared', Step>> {
  const runs: Record<'perDispatch' | 'shared', Step[]> = { perDispatch: [], shared: [] };
  for (const shared of [false, true]) {
    setShared(shared);
    await step();
    await gpu.sync();
  }
  for (let r = 0; r < reps; r++) {
    // ABBA order: neither setting always runs second (after the other's garbage and cache effects).
    for (const shared of r % 2 === 0 ? [false, true] : [true, false]) {
      setShared(shared);
      const c0 = { ...gpu.counters };
      const t0 = performance.now();
      await step();
      const t1 = performance.now();
      await gpu.sync();
      const t2 = performance.now();
      runs[shared ? 'shared' : 'perDispatch'].push({
        dispatches: gpu.counters.dispatches - c0.dispatches,
        submits: gpu.counters.submits - c0.submits,
        jsMs: t1 - t0,
        totalMs: t2 - t0,
      });
    }
  }
  batching.sharedPass = defaults;
  const med = (x: Step[]): Step => ({
    dispatches: median(x.map((r) => r.dispatches)),
    submits: median(x.map((r) => r.submits)),
    jsMs: median(x.map((r) => r.jsMs)),
    totalMs: median(x.map((r) => r.totalMs)),
  });
  return { perDispatch: med(runs.perDispatch), shared: med(runs.shared) };
}

const gpu = await acquireDevice();
process.stderr.write(`adapter: ${gpu.adapter.description}\n`);
const rows: Record<string, unknown>[] = [];
const add = (name: string, both: Record<'perDispatch' | 'shared', Step>) => {
  for (const [passes, s] of [
    ['pass per dispatch', both.perDispatch],
    ['pass per batch', both.shared],
  ] as const)
    addRow(name, passes, s);
};
const addRow = (name: string, passes: string, s: Step) => {
  rows.push({
    case: name,
    passes,
    dispatches: s.dispatches,
    submits: s.submits,
    'JS ms': s.jsMs.toFixed(2),
    'total ms': s.totalMs.toFixed(2),
    'JS µs / dispatch': ((1000 * s.jsMs) / Math.max(1, s.dispatches)).toFixed(1),
    'JS share': `${((100 * s.jsMs) / s.totalMs).toFixed(0)}%`,
  });
};

// 1. 1000 tiny dispatches.
{
  const a = gpu.tensor(new Float32Array(64).fill(1), [64]);
  const b = gpu.tensor(new Float32Array(64).fill(2), [64]);
  add(
    '1000 x add of 64 values',
    await measure(gpu, () => {
      for (let i = 0; i < 1000; i++) binary(gpu, 'add', a, b).dispose();
    }),
  );
  a.dispose();
  b.dispose();
}

// 2. One decoder layer.
const SHAPES = {
  'decode-like B1 T16': { hidden: 64, heads: 4, kvHeads: 2, intermediate: 172, B: 1, T: 16 },
  'fortunes B16 T128': { hidden: 64, heads: 4, kvHeads: 2, intermediate: 172, B: 16, T: 128 },
} as const;
for (const [name, s] of Object.entries(SHAPES)) {
  const config = validateModelConfig({
    architectures: ['LlamaForCausalLM'],
    hidden_size: s.hidden,
    intermediate_size: s.intermediate,
    num_hidden_layers: 1,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    rms_norm_eps: 1e-5,
    vocab_size: 256,
    max_position_embeddings: s.T,
    tie_word_embeddings: true,
  }) as LlmConfig;
  const desc = describeModel(config);
  const params = ParamStore.fromArrays(gpu, desc, initLmArrays(desc, 1, 0.1));
  const net = new Llama(gpu, desc, params);
  const N = s.B * s.T;
  const ids = Int32Array.from({ length: N }, (_, i) => (i * 37) % 256);
  const tokens = net.tokens(ids, s.B, s.T, true);
  const dH = gpu.keep(gpu.tensor(new Float32Array(N * s.hidden).fill(0.01), [N, s.hidden]));
  add(
    `llama layer ${name} forward`,
    await measure(gpu, async () => (await net.forwardHidden(tokens)).hidden.dispose()),
  );
  add(
    `llama layer ${name} forward+backward`,
    await measure(gpu, async () => {
      const { saved } = await net.forwardHidden(tokens, { train: true });
      if (!saved) throw new Error('no activations');
      for (const g of net.backwardHidden(saved, dH, gpu.zeros([256, s.hidden])).values()) g.dispose();
    }),
  );
  tokens.dispose();
  dH.dispose();
  net.dispose();
  params.dispose();
}

console.table(rows);
if (jsonPath) writeFileSync(jsonPath, `${JSON.stringify({ adapter: gpu.adapter, reps, rows }, null, 2)}\n`);
gpu.destroy();
process.exit(0);
