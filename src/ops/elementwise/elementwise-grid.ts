import type { Gpu } from '../../gpu/device.js';
import { cnn as tun } from '../../tunables.js';
import { grid2d } from '../util.js';

/** Workgroups and the grid-stride step for a one-invocation-per-element kernel over n elements. */
export function elementGrid(gpu: Gpu, n: number): { workgroups: [number, number]; step: number } {
  const wg = tun.workgroupSize;
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  const [x, y] = grid2d(Math.max(1, Math.ceil(n / wg)), max);
  return { workgroups: [x, y], step: x * y * wg };
}
