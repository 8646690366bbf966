import { describe, expect, it } from 'vitest';
import { chooseConvTiles, conv2d, conv2dBackwardInput } from '../../../src/ops/conv/conv2d.js';
import { haloSubgroups } from '../../../src/ops/conv/conv2d-halo.js';
import { planeFor, planeWgradFor } from '../../../src/ops/conv/conv2d-plane.js';
import { chooseWgradTiles, conv2dBackwardWeight } from '../../../src/ops/conv/conv2d-wgrad.js';
import { conv2dRef } from '../../helpers/cnn-reference.js';
import { type ConvCase, convData } from '../../helpers/conv-cases.js';
import { needFeature, useGpu } from '../../helpers/gpu.js';
import { dot, numericGrad, worstVsMax } from '../../helpers/grad-check.js';
import { values } from '../../helpers/reference.js';

const getGpu = useGpu();
/** The plane kernels shuffle weights or dY between the 8 lanes of a subgroup, as the halo kernel does. */
const NEEDS = 'the plane kernels need subgroups of exactly 8 lanes';
const GRAD_REL = 1e-5;
const EPS = 1e-2;

interface Case extends ConvCase {
  tm: number;
}

// Lane tails (images or input channels not a multiple of 8), channel tails (cout not a multiple of TM),
// non-square planes, no padding, a 1x1 kernel, the largest plane (8x8 = 64 outputs), TM 16. (Each
// shape is a fresh specialisation of written-out code: a few seconds of compile each.)
const CASES: Case[] = [
  { n: 3, cin: 5, h: 7, w: 7, cout: 12, k: 3, pad: 1, stride: 1, tm: 8 },
  { n: 9, cin: 4, h: 5, w: 6, cout: 8, k: 3, pad: 1, stride: 1, tm: 8 },
  { n: 2, cin: 11, h: 4, w: 4, cout: 16, k: 1, pad: 0, stride: 1, tm: 16 },
  { n: 2, cin: 3, h: 6, w: 5, cout: 9, k: 3, pad: 0, stride: 1, tm: 8 },
  { n: 2, cin: 9, h: 8, w: 8, cout: 10, k: 3, pad: 1, stride: 1, tm: 8 },
];
const label = (c: Case) =>
  `N=${c.n} Cin=${c.cin} ${c.h}x${c.w} Cout=${c.cout} ${c.k}x${c.k} pad ${c.pad} stride ${c.stride} TM ${c.tm}`;

function data(c: Case) {
  const { xs, ws, x, w } = convData(c);
  const ref = conv2dRef(x, w, undefined, xs, ws, c.stride, c.pad);
  return { xs, ws, x, w, ref, r: values(ref.out.length, 77 + c.k) };
}

/** Both kernels' outputs as raw bits: the plane kernels add in the general kernels' order. */
const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe('conv2d plane kernels (a whole small plane per invocation, subgroups of 8)', () => {
  it.for(CASES.map((c) => [label(c), c] as const))(
    'forward %s: bias and ReLU against f64; bit-identical to the general kernel',
    async ([, c], ctx) => {
      const gpu = await getGpu();
      needFeature(ctx, 'halo-conv', haloSubgroups(gpu), NEEDS);
      const { xs, ws, x, w, ref } = data(c);
      const b = values(c.cout, 11);
      const geo = { stride: c.stride, padding: c.pad };
      const got = await gpu.scope(async () => {
        const [tx, tw] = [gpu.tensor(x, xs), gpu.tensor(w, ws)];
        const epi = { bias: gpu.tensor(b, [c.cout]), relu: true };
        const general = chooseConvTiles({ cout: c.cout, oh: ref.shape[2], ow: ref.shape[3] }, true);
        return {
          fused: await gpu.readF32(conv2d(gpu, tx, tw, { ...geo, ...epi, plane: { tm: c.tm } })),
          plane: await gpu.readF32(conv2d(gpu, tx, tw, { ...geo, plane: { tm: c.tm } })),
          general: await gpu.readF32(conv2d(gpu, tx, tw, { ...geo, tiles: general })),
        };
      });
      const withBias = conv2dRef(x, w, b, xs, ws, c.stride, c.pad).out;
      const want = withBias.map((v) => Math.max(0, v));
      expect(worstVsMax(got.fused, want, 1e-5)).toBeLessThanOrEqual(1);
      expect(got.fused.some((v, i) => v === 0 && withBias[i] < 0)).toBe(true);
      expect(bits(got.plane)).toEqual(bits(got.general));
    },
  );

  it.for(CASES.map((c) => [label(c), c] as const))(
    'dx and dW %s against central differences; bit-identical to the general kernels',
    async ([, c], ctx) => {
      const gpu = await getGpu();
      needFeature(ctx, 'halo-conv', haloSubgroups(gpu), NEEDS);
      const { xs, ws, x, w, ref, r } = data(c);
      const geo = { stride: c.stride, padding: c.pad };
      const got = await gpu.scope(async () => {
        const [tx, tw, dy] = [gpu.tensor(x, xs), gpu.tensor(w, ws), gpu.tensor(r, ref.shape)];
        const plane = { tm: c.tm };
        const general = chooseConvTiles({ cout: c.cin, oh: c.h, ow: c.w }, true);
        const wtiles = chooseWgradTiles({ n: c.n, cin: c.cin, cout: c.cout, kh: c.k }, true);
        return {
          dx: await gpu.readF32(conv2dBackwardInput(gpu, dy, tw, xs, { ...geo, plane })),
          dxGeneral: await gpu.readF32(conv2dBackwardInput(gpu, dy, tw, xs, { ...geo, tiles: general })),
          dw: await gpu.readF32(conv2dBackwardWeight(gpu, tx, dy, ws, { ...geo, plane })),
          dwGeneral: await gpu.readF32(conv2dBackwardWeight(gpu, tx, dy, ws, { ...geo, tiles: wtiles })),
        };
      });
      const loss = (xv: ArrayLike<number>, wv: ArrayLike<number>) =>
        dot(conv2dRef(xv, wv, undefined, xs, ws, c.stride, c.pad).out, r);
      expect(
        worstVsMax(
          got.dx,
          numericGrad(x, (v) => loss(v, w), EPS),
          GRAD_REL,
        ),
      ).toBeLessThanOrEqual(1);
      expect(
        worstVsMax(
          got.dw,
          numericGrad(w, (v) => loss(x, v), EPS),
          GRAD_REL,
        ),
      ).toBeLessThanOrEqual(1);
      expect(bits(got.dx)).toEqual(bits(got.dxGeneral));
      expect(bits(got.dw)).toEqual(bits(got.dwGeneral));
    },
  );

  it('dW of a stride-2 convolution, and in batch slices, bit-identical to the general kernel', async (ctx) => {
    const gpu = await getGpu();
    needFeature(ctx, 'halo-conv', haloSubgroups(gpu), NEEDS);
    const c: Case = { n: 5, cin: 3, h: 7, w: 7, cout: 8, k: 3, pad: 1, stride: 2, tm: 8 };
    const { xs, ws, x, w, ref, r } = data(c);
    const got = await gpu.scope(async () => {
      const [tx, dy] = [gpu.tensor(x, xs), gpu.tensor(r, ref.shape)];
      const geo = { stride: 2, padding: 1 };
      const tiles = { lanes: 8, tm: 16, pw: 4, splits: 3 };
      return {
        plane: await gpu.readF32(conv2dBackwardWeight(gpu, tx, dy, ws, { ...geo, plane: { tm: 8 }, tiles })),
        general: await gpu.readF32(conv2dBackwardWeight(gpu, tx, dy, ws, { ...geo, tiles })),
      };
    });
    const dw = numericGrad(w, (v) => dot(conv2dRef(x, v, undefined, xs, ws, 2, 1).out, r), EPS);
    expect(worstVsMax(got.plane, dw, GRAD_REL)).toBeLessThanOrEqual(1);
    expect(bits(got.plane)).toEqual(bits(got.general));
  });

  it('runs by default on big launches over small planes, and not elsewhere', async (ctx) => {
    const gpu = await getGpu();
    needFeature(ctx, 'halo-conv', haloSubgroups(gpu), NEEDS);
    // The last stage of a Fashion-MNIST ResNet at batch 64: 64 channels of 7x7.
    const layer = {
      n: 64,
      cin: 64,
      cout: 64,
      h: 7,
      w: 7,
      oh: 7,
      ow: 7,
      kh: 3,
      kw: 3,
      stride: 1,
      padH: 1,
      padW: 1,
    };
    expect(planeFor(gpu, layer, {})).toEqual({ tm: 8 });
    expect(planeWgradFor(gpu, layer, {})).toEqual({ tm: 8 });
    expect(planeFor(gpu, { ...layer, h: 14, w: 14, oh: 14, ow: 14 }, {})).toBeUndefined();
    expect(planeFor(gpu, { ...layer, n: 1 }, {})).toBeUndefined();
    expect(planeFor(gpu, { ...layer, h: 14, w: 14, stride: 2 }, {})).toBeUndefined();
    expect(planeWgradFor(gpu, { ...layer, h: 14, w: 14, stride: 2 }, {})).toBeUndefined();
    expect(planeFor(gpu, layer, { tiles: { lanes: 8, tm: 16, owt: 8 } })).toBeUndefined();
    expect(planeFor(gpu, layer, { halo: { tm: 16, oht: 1, owt: 8 } })).toBeUndefined();
    expect(planeFor(gpu, layer, { residual: {} })).toBeUndefined();
  });

  it('rejects plane tiles that cannot run, naming them', async (ctx) => {
    const gpu = await getGpu();
    needFeature(ctx, 'halo-conv', haloSubgroups(gpu), NEEDS);
    const x = gpu.zeros([1, 2, 7, 7]);
    const w = gpu.zeros([8, 2, 3, 3]);
    expect(() => conv2d(gpu, x, w, { padding: 1, plane: { tm: 12 } })).toThrow(
      /tm must be a positive multiple of 8/,
    );
    expect(() => conv2d(gpu, x, w, { padding: 1, stride: 2, plane: { tm: 8 } })).toThrow(/stride-1/);
    const residual = gpu.zeros([1, 8, 7, 7]);
    expect(() => conv2d(gpu, x, w, { padding: 1, residual, plane: { tm: 8 } })).toThrow(/without a residual/);
    residual.dispose();
    const big = gpu.zeros([1, 2, 9, 9]);
    expect(() => conv2d(gpu, big, w, { padding: 1, plane: { tm: 8 } })).toThrow(/at most 64 outputs/);
    for (const t of [x, w, big]) t.dispose();
  });
});
