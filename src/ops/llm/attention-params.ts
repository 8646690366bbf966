import loadWgsl from '../../../shaders/lib/attention-load.wgsl';
import { uniforms } from '../../gpu/uniforms.js';

// What both attention kernel families (attention.ts: lavapipe-tuned; flash-attention.ts: workgroup
// memory) share: the checked geometry, the uniforms every kernel reads and their values, and the Q / K /
// V / dO loads.

/** What attention.ts has checked: sizes and element strides [batch, head, time] of q and k. */
export interface AttentionGeometry {
  B: number;
  T: number;
  Hq: number;
  Hkv: number;
  D: number;
  qStrides: [number, number, number];
  kStrides: [number, number, number];
}

/** The uniforms every attention kernel reads: sizes, element strides, mask, scales. */
export const attentionFields = {
  t: 'u32',
  hq: 'u32',
  group: 'u32',
  blocks: 'u32',
  qsb: 'u32',
  qsh: 'u32',
  qst: 'u32',
  ksb: 'u32',
  ksh: 'u32',
  kst: 'u32',
  causal: 'u32',
  scale: 'f32',
  /** scale * log2(e): scores live in the exp2 domain. */
  scale2: 'f32',
  hkv: 'u32',
  d4: 'u32',
} as const;

/** The flash kernels' uniforms: the shared fields alone. */
export const flashParams = uniforms(attentionFields);

/** The values of attentionFields for one launch of `blocks` query (or key) blocks. */
export function attentionValues(g: AttentionGeometry, blocks: number, causal: boolean, scale: number) {
  const [qsb, qsh, qst] = g.qStrides;
  const [ksb, ksh, kst] = g.kStrides;
  return {
    ...{ t: g.T, hq: g.Hq, group: g.Hq / g.Hkv, blocks, qsb, qsh, qst, ksb, ksh, kst },
    ...{ causal: causal ? 1 : 0, scale, scale2: scale * Math.LOG2E, hkv: g.Hkv, d4: Math.ceil(g.D / 4) },
  };
}

/** The Q / K / V / dO loads (LOAD_DO: the kernel binds dO). */
export const attentionIncludes = { 'attention-load': loadWgsl };
