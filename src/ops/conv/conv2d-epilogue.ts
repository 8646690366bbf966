import type { Tensor } from '../../gpu/tensor.js';

/** What both convolution kernels add after the sum: bias, then the residual, then the ReLU. */
export interface Epilogue {
  bias?: Tensor;
  residual?: Tensor;
  relu?: boolean;
}

/** Storage bindings of either convolution kernel (conv2d.wgsl, conv2d-halo-wgsl.ts), in binding order. */
export function convBuffers(x: Tensor, weight: Tensor, epi: Epilogue, out: Tensor): Tensor[] {
  const buffers = [x, weight];
  if (epi.bias) buffers.push(epi.bias);
  if (epi.residual) buffers.push(epi.residual);
  buffers.push(out);
  return buffers;
}
