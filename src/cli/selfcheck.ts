import { acquireDevice } from '../node/device.js';
import { gemm } from '../ops/gemm.js';
import { sum } from '../ops/reduce.js';

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

interface Check {
  name: string;
  maxRelError: number;
  ms: number;
  ok: boolean;
}

/** GEMM (with an awkward shape) and a long reduction on the device, checked against float64 on the CPU. */
export async function selfcheckCommand(opts: { json?: boolean }): Promise<void> {
  const gpu = await acquireDevice();
  const checks: Check[] = [];
  try {
    const [m, n, k] = [257, 130, 515];
    const a = values(m * k, 1);
    const b = values(k * n, 2);
    let t0 = performance.now();
    const c = await gpu.readF32(gemm(gpu, gpu.tensor(a, [m, k]), gpu.tensor(b, [k, n])));
    let ms = performance.now() - t0;
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
    checks.push({ name: `gemm ${m}x${n}x${k}`, maxRelError: worst, ms, ok: worst < 1e-5 });

    const x = values(1 << 20, 3);
    t0 = performance.now();
    const [total] = await gpu.readF32(sum(gpu, gpu.tensor(x, [x.length])));
    ms = performance.now() - t0;
    let ref = 0;
    let mag = 0;
    for (const v of x) {
      ref += v;
      mag += Math.abs(v);
    }
    const err = Math.abs(total - ref) / mag;
    checks.push({ name: `sum of ${x.length} values`, maxRelError: err, ms, ok: err < 1e-6 });
  } finally {
    gpu.destroy();
  }
  const ok = checks.every((c) => c.ok);
  if (opts.json) process.stdout.write(`${JSON.stringify({ ok, checks })}\n`);
  else {
    for (const c of checks) {
      process.stdout.write(
        `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(24)} max rel. error ${c.maxRelError.toExponential(2)}  ${c.ms.toFixed(0)} ms\n`,
      );
    }
  }
  if (!ok) throw new Error('self-check failed: the device computed wrong results');
}
