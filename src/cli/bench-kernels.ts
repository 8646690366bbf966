// The kernel rows of `sglp bench` (bench.ts): GEMM (f32, and f16 storage where the adapter has it), a
// copy and a sum over a large buffer, causal attention forward and backward, and a 3x3 convolution's
// forward and both gradients. FLOPs are the useful ones; bytes the least the operation must move.

import type { Gpu } from '../gpu/device.js';
import { conv2d, conv2dBackwardInput } from '../ops/conv/conv2d.js';
import { conv2dBackwardWeight } from '../ops/conv/conv2d-wgrad.js';
import { gemm } from '../ops/linalg/gemm.js';
import { attention, attentionBackward } from '../ops/llm/attention.js';
import { sum } from '../ops/reduce/reduce.js';
import { type BenchGroup, benchTools, type Measure } from './bench-measure.js';

/** The rows of the kernel groups in `only` (gemm, sum, attention, conv); `quick`: small shapes. */
export async function kernelRows(
  gpu: Gpu,
  quick: boolean,
  only: ReadonlySet<BenchGroup>,
  measure: Measure,
): Promise<void> {
  const { scoped, fill, op } = benchTools(gpu);
  if (only.has('gemm')) {
    const cases: [number, number, number][] = quick
      ? [[256, 256, 256]]
      : [
          [1024, 1024, 1024],
          [4096, 4096, 64],
          [64, 64, 16384],
        ];
    for (const [m, n, k] of cases) {
      await scoped(async () => {
        const x = fill([m, k], 1);
        const y = fill([k, n], 2);
        const work = { flops: 2 * m * n * k, bytes: 4 * (m * k + k * n + m * n) };
        await measure(
          'gemm',
          `gemm ${m}x${n}x${k} f32`,
          op(() => gemm(gpu, x, y)),
          work,
        );
        if (gpu.hasF16) {
          const xh = fill([m, k], 1, 'f16');
          const yh = fill([k, n], 2, 'f16');
          const bytes = 2 * (m * k + k * n) + 4 * m * n;
          await measure(
            'gemm',
            `gemm ${m}x${n}x${k} f16 storage`,
            op(() => gemm(gpu, xh, yh)),
            {
              flops: work.flops,
              bytes,
            },
          );
        }
      });
    }
  }

  if (only.has('sum')) {
    const count = quick ? 1 << 20 : 16 << 20;
    const mb = (count * 4) / 2 ** 20;
    await scoped(async () => {
      const big = fill([count], 3);
      const dst = gpu.empty([count]);
      // The copy reads and writes; counted as the bytes read, like the reduction (a yardstick).
      await measure(
        'sum',
        `copy ${mb} MiB (yardstick)`,
        op(() => void gpu.copy(big, dst)),
        { bytes: count * 4 },
      );
      await measure(
        'sum',
        `sum ${mb} MiB f32`,
        op(() => sum(gpu, big)),
        { bytes: count * 4 },
      );
    });
  }

  if (only.has('attention')) {
    // Causal; useful FLOPs (the visible half of QKᵀ and PV); backward counted as 2.5 forwards.
    const shapes = quick
      ? [[1, 4, 2, 64, 32]]
      : [
          [1, 8, 2, 512, 64],
          [1, 32, 8, 2048, 64],
        ];
    for (const [B, Hq, Hkv, T, D] of shapes) {
      await scoped(async () => {
        const q = fill([B, Hq, T, D], 4);
        const k = fill([B, Hkv, T, D], 5);
        const v = fill([B, Hkv, T, D], 6);
        const dO = fill([B, Hq, T, D], 7);
        const f = attention(gpu, q, k, v);
        const flops = (4 * B * Hq * D * T * (T + 1)) / 2;
        const bytes = 4 * (2 * B * Hq * T * D + 2 * B * Hkv * T * D);
        const name = `attention B${B} Hq${Hq} Hkv${Hkv} T${T} D${D}`;
        await measure(
          'attention',
          `${name} fwd`,
          {
            run: () => {
              const r = attention(gpu, q, k, v);
              r.out.dispose();
              r.lse.dispose();
            },
          },
          { flops, bytes },
        );
        await measure(
          'attention',
          `${name} bwd`,
          {
            run: () => {
              const g = attentionBackward(gpu, dO, q, k, v, f.out, f.lse);
              g.dq.dispose();
              g.dk.dispose();
              g.dv.dispose();
            },
          },
          { flops: 2.5 * flops, bytes: 2 * bytes },
        );
      });
    }
  }

  if (only.has('conv')) {
    const [n, c, h, k] = [quick ? 4 : 64, 16, 32, 3];
    await scoped(async () => {
      const x = fill([n, c, h, h], 8);
      const w = fill([c, c, k, k], 9);
      const dy = fill([n, c, h, h], 10);
      const geo = { stride: 1, padding: 1 };
      const work = { flops: 2 * n * c * h * h * c * k * k, bytes: 4 * (2 * n * c * h * h + c * c * k * k) };
      const name = `conv2d b${n} ${c}->${c} ${h}x${h} 3x3`;
      await measure(
        'conv',
        `${name} fwd`,
        op(() => conv2d(gpu, x, w, geo)),
        work,
      );
      await measure(
        'conv',
        `${name} dx`,
        op(() => conv2dBackwardInput(gpu, dy, w, x.shape, geo)),
        work,
      );
      await measure(
        'conv',
        `${name} dW`,
        op(() => conv2dBackwardWeight(gpu, x, dy, w.shape, geo)),
        work,
      );
    });
  }
}
