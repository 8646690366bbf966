import type { Gpu } from '../gpu/device.js';
import { acquireDevice } from '../node/device.js';
import { gemm } from '../ops/linalg/gemm.js';
import { chooseGemmTiles } from '../ops/linalg/gemm-config.js';
import { sum } from '../ops/reduce/reduce.js';

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

export interface Check {
  name: string;
  /** Largest |got - want| / sum |terms|: the error relative to what f32 rounding can cause. */
  maxRelError: number;
  ms: number;
  ok: boolean;
}

async function checkGemm(gpu: Gpu, m: number, n: number, k: number, splitK: boolean): Promise<Check> {
  const a = values(m * k, m);
  const b = values(k * n, n);
  const tiles = chooseGemmTiles({ m, n, k, batch: 1 }, gpu.adapter.isCpu);
  if (splitK) {
    tiles.splits = 4;
    tiles.kPerSplit = Math.ceil(k / 16) * 4;
  }
  const t0 = performance.now();
  const c = await gpu.readF32(gemm(gpu, gpu.tensor(a, [m, k]), gpu.tensor(b, [k, n]), { tiles }));
  const ms = performance.now() - t0;
  let worst = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let mag = 0;
      for (let p = 0; p < k; p++) {
        s += a[i * k + p] * b[p * n + j];
        mag += Math.abs(a[i * k + p] * b[p * n + j]);
      }
      worst = Math.max(worst, Math.abs(c[i * n + j] - s) / mag);
    }
  }
  const name = `gemm ${m}x${n}x${k}${splitK ? ' split-K' : ''}`;
  return { name, maxRelError: worst, ms, ok: worst < 1e-5 };
}

async function checkSum(gpu: Gpu, n: number): Promise<Check> {
  const x = values(n, 3);
  const t0 = performance.now();
  const [total] = await gpu.readF32(sum(gpu, gpu.tensor(x, [n])));
  const ms = performance.now() - t0;
  let ref = 0;
  let mag = 0;
  for (const v of x) {
    ref += v;
    mag += Math.abs(v);
  }
  const err = Math.abs(total - ref) / mag;
  return { name: `sum of ${n} values`, maxRelError: err, ms, ok: err < 1e-5 };
}

/** GEMM (awkward shapes, both paths) and a long reduction on the device, against float64 on the CPU. */
export async function selfcheck(gpu: Gpu): Promise<Check[]> {
  return [
    await checkGemm(gpu, 257, 130, 515, false),
    await checkGemm(gpu, 64, 36, 1024, true),
    await checkSum(gpu, (1 << 20) + 3),
  ];
}

export async function selfcheckCommand(opts: { json?: boolean }): Promise<void> {
  const gpu = await acquireDevice();
  let checks: Check[];
  try {
    checks = await selfcheck(gpu);
  } finally {
    gpu.destroy();
  }
  const ok = checks.every((c) => c.ok);
  if (opts.json) process.stdout.write(`${JSON.stringify({ ok, checks })}\n`);
  else {
    for (const c of checks) {
      process.stdout.write(
        `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(28)} max rel. error ${c.maxRelError.toExponential(2)}  ${c.ms.toFixed(0)} ms\n`,
      );
    }
  }
  if (!ok) throw new Error('self-check failed: the device computed wrong results');
}
