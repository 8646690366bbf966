// Writes a random-weight Hugging Face model directory at the exact shapes of a public LLaMA-family model
// (bench/shapes.ts). Random weights measure cost, memory and correctness, not quality.
//
//   node dist/gen-shapes.js --shape llama-3.2-1b --out DIR [--seed 0] [--layers N] [--dtype bf16|f16|f32]
//     [--max-shard-size BYTES] [--index] [--tiny] [--json]
//   node dist/gen-shapes.js --list [--json]        shapes, parameters, bytes, per-layer figures
//
// DIR must not exist or be empty. Progress goes to stderr; --json prints one JSON object on stdout.
import { mkdir, readdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  DEFAULT_MAX_SHARD_BYTES,
  generateModel,
  SHAPE_NAMES,
  SHAPES,
  type ShapeName,
  shapeSummary,
} from './shapes.js';

const { values: a } = parseArgs({
  options: {
    shape: { type: 'string' },
    out: { type: 'string' },
    seed: { type: 'string', default: '0' },
    layers: { type: 'string' },
    dtype: { type: 'string', default: 'bf16' },
    'max-shard-size': { type: 'string' },
    index: { type: 'boolean', default: false },
    tiny: { type: 'boolean', default: false },
    list: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`--${name}: expected a non-negative integer, got ${v}`);
  return n;
}

async function main(): Promise<void> {
  if (a.list) {
    const rows = SHAPE_NAMES.map((s) => ({ shape: s, model: SHAPES[s].model, ...shapeSummary(s) }));
    if (a.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
    else for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const shape = a.shape as ShapeName | undefined;
  if (!shape || !SHAPE_NAMES.includes(shape)) {
    throw new Error(`--shape: one of ${SHAPE_NAMES.join(', ')} (got ${a.shape ?? 'nothing'})`);
  }
  if (!a.out) throw new Error('--out DIR is required');
  const dtype = { bf16: 'BF16', f16: 'F16', f32: 'F32' }[a.dtype] as 'BF16' | 'F16' | 'F32' | undefined;
  if (!dtype) throw new Error(`--dtype: bf16, f16 or f32 (got ${a.dtype})`);
  await mkdir(a.out, { recursive: true });
  if ((await readdir(a.out)).length > 0) throw new Error(`--out ${a.out} is not empty`);
  const opts = {
    seed: int('seed', a.seed) ?? 0,
    dtype,
    tiny: a.tiny,
    forceIndex: a.index,
    maxShardBytes: int('max-shard-size', a['max-shard-size']) ?? DEFAULT_MAX_SHARD_BYTES,
    ...(a.layers !== undefined ? { layers: int('layers', a.layers) } : {}),
  };
  const t0 = performance.now();
  let last = 0;
  const r = await generateModel(a.out, shape, opts, (key, done, total) => {
    const now = performance.now();
    if (now - last > 2000 || done === total) {
      last = now;
      process.stderr.write(`gen-shapes: ${done}/${total} tensors (${key})\n`);
    }
  });
  const s = (performance.now() - t0) / 1000;
  const out = {
    shape,
    model: SHAPES[shape].model,
    dir: r.dir,
    files: r.files,
    params: r.params,
    bytes: r.bytes,
    seconds: s,
  };
  if (a.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else
    process.stderr.write(
      `gen-shapes: ${shape} (${SHAPES[shape].model}): ${r.params.toLocaleString('en')} params, ` +
        `${(r.bytes / 1e9).toFixed(3)} GB in ${r.files.length} file(s), ${s.toFixed(1)} s -> ${r.dir}\n`,
    );
}

main().catch((e) => {
  process.stderr.write(`gen-shapes: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
