import type { Gpu } from '../../gpu/device.js';
import type { Tensor } from '../../gpu/tensor.js';
import { reduce } from './reduce.js';

/**
 * The global L2 norm sqrt(sum_p ||grad_p||^2) of a list of tensors (GradNorm, docs/method.md §4): one
 * deterministic sum-of-squares per tensor on the GPU, gathered into one buffer, read back once, and
 * summed in float64 in list order.
 */
export async function gradNorm(gpu: Gpu, grads: readonly Tensor[]): Promise<number> {
  if (grads.length === 0) return 0;
  const squares = await gpu.scope(async () => {
    const slots = gpu.empty([grads.length]);
    grads.forEach((g, i) => {
      if (g.size === 0) {
        gpu.copy(gpu.zeros([1]), slots, 4, 0, 4 * i);
        return;
      }
      gpu.copy(reduce(gpu, g.reshape([g.size]), 'sumsq', 0), slots, 4, 0, 4 * i);
    });
    return gpu.readF32(slots);
  });
  let total = 0;
  for (const s of squares) total += s;
  return Math.sqrt(total);
}
