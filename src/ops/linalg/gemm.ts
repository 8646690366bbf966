import activationWgsl from '../../../shaders/activation.wgsl';
import gemmWgsl from '../../../shaders/gemm.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { DType, Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { type Activation, activationDefines } from '../elementwise/activation.js';
import { chooseGemmTiles, type GemmTiles } from './gemm-config.js';
import { foldSplitK } from './gemm-splitk.js';
import { type GemmVariantOptions, gemmIncludes, gemmTiled, tiledGemmFor } from './gemm-tiled.js';

const gemmParams = uniforms({
  m: 'u32',
  n: 'u32',
  k: 'u32',
  splits: 'u32',
  kPerSplit: 'u32',
  /** Elements between batch entries of A and B (0: shared by every entry). */
  strideA: 'u32',
  strideB: 'u32',
  alpha: 'f32',
});

export interface GemmOptions extends GemmVariantOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  /** Added after alpha: [N] per column, or [M] per row with biasAxis 'm'. Always f32. */
  bias?: Tensor;
  biasAxis?: 'n' | 'm';
  activation?: Activation;
  /** Output storage type; defaults to A's. Accumulation is always f32. */
  outDType?: Extract<DType, 'f32' | 'f16'>;
  /** Override the tile choice (benchmarks and tests). */
  tiles?: GemmTiles;
  /**
   * C += op(A) op(B) into this f32 [M, N] tensor (returned): each output's chain of FMAs starts from its
   * value, so K split over calls in order sums exactly as one call over the whole K without split-K (the
   * vocabulary-sliced LM head, src/nn/llama-head-sliced.ts). Plain kernel, one K slice, no bias, activation
   * or alpha.
   */
  into?: Tensor;
}

/**
 * C = act(alpha * op(A) op(B) + bias). A is [batch?, M, K] ([.., K, M] with transA), B is [batch?, K, N]
 * ([.., N, K] with transB); a 2-D operand is shared by every batch entry. Each operand is f32 or f16 on its
 * own (f32 activations times f16 weights: the mixed-precision LLM path); f16 needs shader-f16.
 */
export function gemm(gpu: Gpu, a: Tensor, b: Tensor, opts: GemmOptions = {}): Tensor {
  const { transA = false, transB = false, alpha = 1, bias, biasAxis = 'n', activation = 'none' } = opts;
  const rankA = a.shape.length;
  const rankB = b.shape.length;
  if (rankA < 2 || rankA > 3 || rankB < 2 || rankB > 3) {
    throw new ShapeError(
      'gemm',
      `operands must be 2-D or 3-D, got [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`,
    );
  }
  for (const [name, t] of [
    ['A', a],
    ['B', b],
  ] as const) {
    if (t.dtype !== 'f32' && t.dtype !== 'f16') {
      throw new ShapeError('gemm', `operand ${name} must be f32 or f16, got ${t.dtype}`);
    }
  }
  const elemA = a.dtype as 'f32' | 'f16';
  const elemB = b.dtype as 'f32' | 'f16';
  // f16 output only when both operands are f16: f32 activations x f16 weights give f32.
  const outDType = opts.outDType ?? (elemA === 'f16' && elemB === 'f16' ? 'f16' : 'f32');
  const f16 = elemA === 'f16' || elemB === 'f16' || outDType === 'f16';
  if (f16 && !gpu.hasF16) {
    throw new ShapeError(
      'gemm',
      `f16 storage (A ${elemA}, B ${elemB}, C ${outDType}) needs the adapter feature shader-f16, which it lacks`,
    );
  }
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const m = transA ? ac : ar;
  const k = transA ? ar : ac;
  const kb = transB ? bc : br;
  const n = transB ? br : bc;
  if (k !== kb) {
    throw new ShapeError(
      'gemm',
      `inner dimensions differ: A [${a.shape.join(', ')}]${transA ? 'ᵀ' : ''} x B [${b.shape.join(', ')}]${transB ? 'ᵀ' : ''}`,
    );
  }
  const batchA = rankA === 3 ? a.shape[0] : 1;
  const batchB = rankB === 3 ? b.shape[0] : 1;
  if (rankA === 3 && rankB === 3 && batchA !== batchB) {
    throw new ShapeError('gemm', `batch sizes differ: ${batchA} and ${batchB}`);
  }
  const batch = Math.max(batchA, batchB);
  if (bias) {
    const want = biasAxis === 'n' ? n : m;
    if (bias.dtype !== 'f32' || bias.size !== want) {
      throw new ShapeError(
        'gemm',
        `bias must be f32 with ${want} values (axis ${biasAxis}), got ${bias.dtype} [${bias.shape.join(', ')}]`,
      );
    }
  }
  const outShape = rankA === 3 || rankB === 3 ? [batch, m, n] : [m, n];
  const into = opts.into;
  if (into) {
    if (into.dtype !== 'f32' || into.shape.join() !== outShape.join() || outDType !== 'f32') {
      throw new ShapeError(
        'gemm',
        `into must be f32 [${outShape.join(', ')}], got ${into.dtype} [${into.shape.join(', ')}]`,
      );
    }
    if (bias || activation !== 'none' || alpha !== 1 || (opts.tiles && opts.tiles.splits > 1)) {
      throw new ShapeError('gemm', 'into takes no bias, activation, alpha or split-K');
    }
  }
  const out = into ?? gpu.empty(outShape, outDType);
  if (out.size === 0) return out;
  if (k === 0) throw new ShapeError('gemm', 'K is 0');

  // Discrete GPUs: the workgroup-memory tiled kernel (src/ops/linalg/gemm-tiled.ts) where the shape fills its tiles.
  const tiled = into ? undefined : tiledGemmFor(gpu.kernels, gpu.adapter.isCpu, { m, n, k, batch }, opts);
  if (tiled) {
    const strides = { strideA: batchA > 1 ? m * k : 0, strideB: batchB > 1 ? k * n : 0 };
    return gemmTiled(
      gpu,
      { a, b, out, bias, biasAxis, activation, alpha, transA, transB, tiles: tiled },
      {
        ...{ m, n, k, batch, f16, outDType, ...strides },
      },
    );
  }
  const chosen = opts.tiles ?? chooseGemmTiles({ m, n, k, batch }, gpu.adapter.isCpu);
  const tiles = into ? { ...chosen, splits: 1, kPerSplit: Math.ceil(k / 4) * 4 } : chosen;
  const split = tiles.splits > 1;
  const biasDefs = {
    HAS_BIAS: !!bias,
    BIAS_N: !!bias && biasAxis === 'n',
    BIAS_M: !!bias && biasAxis === 'm',
  };
  const act = activationDefines(split ? 'none' : activation);
  const partial = split ? gpu.empty([batch * tiles.splits, m, n], 'f32', 'gemm partials') : out;
  const mainBias = split ? undefined : bias;
  const shuffle = tiles.tm % tiles.lanes === 0 && gpu.fixedSubgroupSize === tiles.lanes;
  gpu.dispatch({
    kernel: {
      name: 'gemm',
      template: gemmWgsl + activationWgsl,
      includes: gemmIncludes,
      defines: {
        LANES: tiles.lanes,
        TM: tiles.tm,
        TN: tiles.tn,
        TILE_N: tiles.lanes * tiles.tn * 4,
        COL_STRIDE: tiles.lanes * 4,
        TRANS_A: transA,
        TRANS_B: transB,
        A_VEC: !transA && k % 4 === 0,
        B_VEC: !transB && n % 4 === 0,
        C_VEC: n % 4 === 0,
        SPLIT: split,
        ACCUMULATE: !!into,
        F16: f16,
        SHUFFLE_A: shuffle,
        GROUPS: shuffle ? tiles.tm / tiles.lanes : 1,
        ELEM_A: elemA,
        ELEM_B: elemB,
        OUT: split ? 'f32' : outDType,
        ...(split ? { HAS_BIAS: false, BIAS_N: false, BIAS_M: false } : biasDefs),
        ...act,
        BIND_C: mainBias ? 3 : 2,
        BIND_P: mainBias ? 4 : 3,
      },
      params: gemmParams,
    },
    buffers: mainBias ? [a, b, mainBias, partial] : [a, b, partial],
    uniforms: {
      m,
      n,
      k,
      splits: tiles.splits,
      kPerSplit: tiles.kPerSplit,
      strideA: batchA > 1 ? m * k : 0,
      strideB: batchB > 1 ? k * n : 0,
      alpha,
    },
    workgroups: [Math.ceil(n / (tiles.lanes * tiles.tn * 4)), Math.ceil(m / tiles.tm), batch * tiles.splits],
  });
  if (!split) return out;

  foldSplitK(gpu, partial, out, {
    m,
    n,
    batch,
    splits: tiles.splits,
    alpha,
    bias,
    biasAxis,
    activation,
    outDType,
  });
  partial.dispose();
  return out;
}
