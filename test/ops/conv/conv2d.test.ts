import { describe, expect, it } from 'vitest';
import {
  type ConvTiles,
  chooseConvTiles,
  conv2d,
  conv2dBackward,
  conv2dBackwardInput,
} from '../../../src/ops/conv/conv2d.js';
import {
  chooseHaloTiles,
  type HaloTiles,
  haloFor,
  haloSubgroups,
} from '../../../src/ops/conv/conv2d-halo.js';
import {
  chooseWgradTiles,
  conv2dBackwardWeight,
  type WgradTiles,
} from '../../../src/ops/conv/conv2d-wgrad.js';
import { conv2dRef } from '../../helpers/cnn-reference.js';
import { type ConvCase, convData } from '../../helpers/conv-cases.js';
import { needFeature, useGpu } from '../../helpers/gpu.js';
import { dot, numericGrad, worstVsMax } from '../../helpers/grad-check.js';
import { values, worstRatio } from '../../helpers/reference.js';

const getGpu = useGpu();
/** Why a halo test may not run: its kernel shuffles rows between the 8 lanes of a subgroup. */
const HALO_NEEDS = 'the halo kernel needs subgroups of exactly 8 lanes';
// Forward: f32 accumulation over Cin*KH*KW terms, a few ulps times sum |w x| per output.
const REL = 2e-6;
const ABS = 1e-6;
// Backward: f32 sums of up to a few hundred terms against central differences of the f64 reference
// (exact up to f64 rounding, the loss being linear in each input), relative to the largest gradient.
const GRAD_REL = 1e-5;
const EPS = 1e-2;

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

async function forward(c: ConvCase, tiles?: ConvTiles) {
  const gpu = await getGpu();
  const { xs, ws, x, w, b } = convData(c);
  const got = await gpu.scope(async () => {
    const out = conv2d(gpu, gpu.tensor(x, xs), gpu.tensor(w, ws), {
      stride: c.stride,
      padding: c.pad,
      bias: b ? gpu.tensor(b, [c.cout]) : undefined,
      tiles,
    });
    return { shape: out.shape, data: await gpu.readF32(out) };
  });
  const ref = conv2dRef(x, w, b, xs, ws, c.stride, c.pad);
  const mag = conv2dRef(x.map(Math.abs), w.map(Math.abs), b?.map(Math.abs), xs, ws, c.stride, c.pad).out;
  expect(got.shape).toEqual(ref.shape);
  expect(worstRatio(got.data, ref.out, mag, REL, ABS)).toBeLessThanOrEqual(1);
}

/** GPU gradients of L = sum(conv(x, w, b) * R) against central differences of the f64 reference. */
async function backward(c: ConvCase, o: { tiles?: ConvTiles; wtiles?: WgradTiles } = {}) {
  const gpu = await getGpu();
  const { xs, ws, x, w, b } = convData(c);
  const ref = conv2dRef(x, w, b, xs, ws, c.stride, c.pad);
  const r = values(ref.out.length, 77 + c.k);
  const got = await gpu.scope(async () => {
    const tx = gpu.tensor(x, xs);
    const tw = gpu.tensor(w, ws);
    const dy = gpu.tensor(r, ref.shape);
    const geo = { stride: c.stride, padding: c.pad };
    const g =
      o.tiles || o.wtiles
        ? {
            dx: conv2dBackwardInput(gpu, dy, tw, xs, { ...geo, tiles: o.tiles }),
            dw: conv2dBackwardWeight(gpu, tx, dy, ws, { ...geo, tiles: o.wtiles }),
            db: undefined,
          }
        : conv2dBackward(gpu, tx, tw, dy, { ...geo, biasGrad: !!b });
    expect(g.dx?.shape).toEqual(xs);
    expect(g.dw.shape).toEqual(ws);
    return {
      dx: await gpu.readF32(g.dx as never),
      dw: await gpu.readF32(g.dw),
      db: g.db ? await gpu.readF32(g.db) : undefined,
    };
  });
  const loss = (xv: ArrayLike<number>, wv: ArrayLike<number>, bv: ArrayLike<number> | undefined) =>
    dot(conv2dRef(xv, wv, bv, xs, ws, c.stride, c.pad).out, r);
  const dx = numericGrad(x, (v) => loss(v, w, b), EPS);
  const dw = numericGrad(w, (v) => loss(x, v, b), EPS);
  expect(worstVsMax(got.dx, dx, GRAD_REL)).toBeLessThanOrEqual(1);
  expect(worstVsMax(got.dw, dw, GRAD_REL)).toBeLessThanOrEqual(1);
  if (b && got.db) {
    const db = numericGrad(b, (v) => loss(x, w, v), EPS);
    expect(worstVsMax(got.db, db, GRAD_REL)).toBeLessThanOrEqual(1);
  }
}

const CASES: [number, number, number, number, number, number, number, number][] = [
  [1, 1, 1, 1, 1, 1, 1, 0],
  [1, 3, 5, 7, 5, 3, 1, 1],
  [3, 5, 9, 7, 7, 3, 2, 1],
  [3, 5, 9, 8, 6, 1, 2, 0],
  [2, 4, 6, 6, 9, 3, 1, 0],
  [2, 4, 8, 8, 16, 3, 1, 1],
  [1, 3, 11, 13, 9, 3, 2, 0],
  [2, 2, 6, 5, 3, 5, 1, 2],
  [3, 1, 7, 7, 3, 3, 2, 1],
  [2, 3, 10, 9, 4, 5, 2, 2],
  [1, 2, 9, 11, 3, 3, 3, 1],
  [2, 3, 8, 8, 5, 2, 2, 0],
  [1, 2, 4, 5, 3, 1, 1, 1],
  [1, 3, 6, 7, 2, 3, 1, 2],
];

describe('conv2d forward', () => {
  it.each(CASES)(
    'N=%i Cin=%i %ix%i Cout=%i k=%i stride=%i pad=%i',
    async (n, cin, h, w, cout, k, stride, pad) => {
      await forward({ n, cin, h, w, cout, k, stride, pad, bias: cout % 2 === 1 });
    },
  );

  it('a CIFAR-sized layer: 16 -> 16 channels, 32x32, 3x3', async () => {
    await forward({ n: 1, cin: 16, h: 32, w: 32, cout: 16, k: 3, stride: 1, pad: 1 });
  });

  it('fused epilogue: bias, residual add and ReLU', async () => {
    const gpu = await getGpu();
    for (const c of [
      { n: 2, cin: 3, h: 7, w: 9, cout: 5, k: 3, stride: 1, pad: 1, bias: true },
      { n: 1, cin: 4, h: 8, w: 8, cout: 16, k: 3, stride: 2, pad: 1, bias: false },
    ]) {
      const { xs, ws, x, w, b } = convData(c);
      const ref = conv2dRef(x, w, b, xs, ws, c.stride, c.pad);
      const res = values(ref.out.length, 5);
      const got = await gpu.readF32(
        conv2d(gpu, gpu.tensor(x, xs), gpu.tensor(w, ws), {
          stride: c.stride,
          padding: c.pad,
          bias: b ? gpu.tensor(b, [c.cout]) : undefined,
          residual: gpu.tensor(res, ref.shape),
          relu: true,
        }),
      );
      const want = ref.out.map((v, i) => Math.max(0, v + res[i]));
      expect(worstVsMax(got, want, 1e-5)).toBeLessThanOrEqual(1);
    }
    expect(() =>
      conv2d(gpu, gpu.zeros([1, 3, 5, 5]), gpu.zeros([4, 3, 3, 3]), { residual: gpu.zeros([1, 4, 5, 5]) }),
    ).toThrow(/residual must be f32 \[1, 4, 3, 3\]/);
  });

  it('every tile shape gives the same answer', async () => {
    for (const tiles of [
      { lanes: 8, tm: 1, owt: 1 },
      { lanes: 8, tm: 4, owt: 8 },
      { lanes: 8, tm: 8, owt: 8, subgroups: false },
      { lanes: 16, tm: 16, owt: 2, subgroups: false },
      { lanes: 64, tm: 8, owt: 4 },
    ]) {
      await forward({ n: 3, cin: 5, h: 9, w: 11, cout: 7, k: 3, stride: 2, pad: 1, bias: true }, tiles);
      await forward({ n: 1, cin: 3, h: 7, w: 6, cout: 5, k: 3, stride: 1, pad: 1 }, tiles);
    }
  });

  it('tile choice shrinks for few channels and short rows', () => {
    const cpu = chooseConvTiles({ cout: 16, oh: 32, ow: 32 }, true);
    expect(cpu.lanes * cpu.tm * cpu.owt).toBeGreaterThan(0);
    expect(chooseConvTiles({ cout: 3, oh: 32, ow: 32 }, true).tm).toBe(4);
    expect(chooseConvTiles({ cout: 1, oh: 32, ow: 32 }, true).tm).toBe(1);
    expect(chooseConvTiles({ cout: 16, oh: 5, ow: 5 }, true).owt).toBeLessThanOrEqual(5);
  });

  it('rejects bad shapes, naming them', async () => {
    const gpu = await getGpu();
    const x = gpu.zeros([1, 3, 5, 5]);
    expect(() => conv2d(gpu, x, gpu.zeros([4, 2, 3, 3]))).toThrow(
      /input has 3 channels but weight \[4, 2, 3, 3\]/,
    );
    expect(() => conv2d(gpu, x, gpu.zeros([4, 3, 7, 7]))).toThrow(
      /kernel 7x7 is larger than the padded input/,
    );
    expect(() => conv2d(gpu, x, gpu.zeros([4, 3, 3, 3]), { bias: gpu.zeros([3]) })).toThrow(
      /bias must be f32 \[4\]/,
    );
    expect(() => conv2d(gpu, gpu.zeros([3, 5, 5]), gpu.zeros([4, 3, 3, 3]))).toThrow(/\[N, C, H, W\]/);
    expect(() => conv2d(gpu, x, gpu.zeros([4, 3, 3, 3]), { stride: 0 })).toThrow(/stride must be >= 1/);
  });
});

describe('conv2d halo kernel (3x3, stride 1, padding 1, subgroups of 8)', () => {
  // n, cin, h, w, cout, tiles: every neighbour pattern (W / OWT = 1, 2, 4, 8 lanes per row; OHT 1, 2, 4;
  // subgroups holding whole images or not), a channel tail (cout not a multiple of TM) and partial last
  // subgroups (positions not a multiple of 8).
  const HALO: [number, number, number, number, number, HaloTiles][] = [
    [3, 5, 6, 8, 12, { tm: 8, oht: 2, owt: 8 }],
    [1, 3, 12, 32, 8, { tm: 8, oht: 4, owt: 8 }],
    [2, 3, 4, 16, 8, { tm: 8, oht: 1, owt: 8 }],
    [1, 4, 6, 32, 9, { tm: 16, oht: 2, owt: 8 }],
    [2, 2, 5, 32, 7, { tm: 8, oht: 1, owt: 4 }],
    [3, 3, 4, 4, 8, { tm: 8, oht: 2, owt: 4 }],
  ];

  it.for(HALO)(
    'forward N=%i Cin=%i %ix%i Cout=%i %o, with bias, residual and ReLU',
    async ([n, cin, h, w, cout, halo], ctx) => {
      const gpu = await getGpu();
      needFeature(ctx, 'halo-conv', haloSubgroups(gpu), HALO_NEEDS);
      const c = { n, cin, h, w, cout, k: 3, stride: 1, pad: 1, bias: true };
      const { xs, ws, x, w: wv, b } = convData(c);
      const ref = conv2dRef(x, wv, b, xs, ws, 1, 1);
      const res = values(ref.out.length, 9);
      const got = await gpu.scope(async () =>
        gpu.readF32(
          conv2d(gpu, gpu.tensor(x, xs), gpu.tensor(wv, ws), {
            padding: 1,
            bias: gpu.tensor(b as Float32Array, [cout]),
            residual: gpu.tensor(res, ref.shape),
            relu: true,
            halo,
          }),
        ),
      );
      const want = ref.out.map((v, i) => Math.max(0, v + res[i]));
      expect(worstVsMax(got, want, 1e-5)).toBeLessThanOrEqual(1);
    },
  );

  it.for(HALO)(
    'input gradient N=%i Cin=%i %ix%i Cout=%i %o against central differences',
    async ([n, cin, h, w, cout, halo], ctx) => {
      const gpu = await getGpu();
      needFeature(ctx, 'halo-conv', haloSubgroups(gpu), HALO_NEEDS);
      // dx runs the kernel with Cin output channels; swap so its tiles fit.
      const c = { n, cin: cout, h, w, cout: cin, k: 3, stride: 1, pad: 1 };
      const { xs, ws, x, w: wv } = convData(c);
      const ref = conv2dRef(x, wv, undefined, xs, ws, 1, 1);
      const r = values(ref.out.length, 31);
      const got = await gpu.scope(async () =>
        gpu.readF32(
          conv2dBackwardInput(gpu, gpu.tensor(r, ref.shape), gpu.tensor(wv, ws), xs, { padding: 1, halo }),
        ),
      );
      const dx = numericGrad(x, (v) => dot(conv2dRef(v, wv, undefined, xs, ws, 1, 1).out, r), EPS);
      expect(worstVsMax(got, dx, GRAD_REL)).toBeLessThanOrEqual(1);
    },
  );

  // The other seven epilogues the kernel is specialised on, each flag on and off independently (all on is
  // above, on every shape), on a shape with a channel tail (Cout 9, TM 16) and partial subgroups.
  const EPILOGUES = [false, true]
    .flatMap((bias) =>
      [false, true].flatMap((residual) => [false, true].map((relu) => ({ bias, residual, relu }))),
    )
    .filter((e) => !(e.bias && e.residual && e.relu));
  it.for(EPILOGUES)('forward epilogue %o', async (e, ctx) => {
    const gpu = await getGpu();
    needFeature(ctx, 'halo-conv', haloSubgroups(gpu), HALO_NEEDS);
    const [n, cin, h, w, cout, halo] = HALO[3];
    const c = { n, cin, h, w, cout, k: 3, stride: 1, pad: 1, bias: e.bias };
    const { xs, ws, x, w: wv, b } = convData(c);
    const ref = conv2dRef(x, wv, b, xs, ws, 1, 1);
    const res = values(ref.out.length, 9);
    const got = await gpu.scope(async () =>
      gpu.readF32(
        conv2d(gpu, gpu.tensor(x, xs), gpu.tensor(wv, ws), {
          padding: 1,
          bias: b ? gpu.tensor(b, [cout]) : undefined,
          residual: e.residual ? gpu.tensor(res, ref.shape) : undefined,
          relu: e.relu,
          halo,
        }),
      ),
    );
    const want = ref.out.map((v, i) => {
      const t = v + (e.residual ? res[i] : 0);
      return e.relu ? Math.max(0, t) : t;
    });
    expect(worstVsMax(got, want, 1e-5)).toBeLessThanOrEqual(1);
    // Each flag changes the result here, so a dropped or swapped flag fails: the residual and bias shift
    // outputs by O(1), ReLU zeroes about half of them.
    if (e.relu) expect(got.some((v, i) => v === 0 && want[i] === 0 && ref.out[i] !== 0)).toBe(true);
  });

  it('conv2dBackward on a layer that picks the halo kernel by default: dx, dW and db against f64', async (ctx) => {
    const gpu = await getGpu();
    needFeature(ctx, 'halo-conv', haloSubgroups(gpu), HALO_NEEDS);
    // 8 x 16 x 16 x 32 x 32 x 9 = 18.9 M multiply-adds: above the default threshold, so both the forward
    // and the input gradient (Cin = Cout here) run the halo kernel; dW and db have their own kernels.
    const [n, cin, hw, cout] = [8, 16, 32, 16];
    const layer = { n, cin, cout, kh: 3, kw: 3, stride: 1, padH: 1, padW: 1, oh: hw, ow: hw };
    expect(haloFor(gpu, layer, {})).toBeDefined();
    const xs = [n, cin, hw, hw];
    const ws = [cout, cin, 3, 3];
    const x = values(prod(xs), 61);
    const wv = values(prod(ws), 62);
    const r = values(n * cout * hw * hw, 63);
    const got = await gpu.scope(async () => {
      const g = conv2dBackward(gpu, gpu.tensor(x, xs), gpu.tensor(wv, ws), gpu.tensor(r, [n, cout, hw, hw]), {
        padding: 1,
        biasGrad: true,
      });
      return {
        dx: await gpu.readF32(g.dx as never),
        dw: await gpu.readF32(g.dw),
        db: await gpu.readF32(g.db as never),
      };
    });
    // L = sum(conv(x, w, b) * r): dL/dx, dL/dw, dL/db by their definitions, in f64.
    const dx = new Float64Array(x.length);
    const dw = new Float64Array(wv.length);
    const db = new Float64Array(cout);
    for (let b0 = 0; b0 < n; b0++) {
      for (let co = 0; co < cout; co++) {
        for (let y = 0; y < hw; y++) {
          for (let z = 0; z < hw; z++) {
            const d = r[((b0 * cout + co) * hw + y) * hw + z];
            db[co] += d;
            for (let ci = 0; ci < cin; ci++) {
              for (let i = 0; i < 3; i++) {
                const iy = y - 1 + i;
                if (iy < 0 || iy >= hw) continue;
                for (let j = 0; j < 3; j++) {
                  const ix = z - 1 + j;
                  if (ix < 0 || ix >= hw) continue;
                  const xi = ((b0 * cin + ci) * hw + iy) * hw + ix;
                  const wi = ((co * cin + ci) * 3 + i) * 3 + j;
                  dx[xi] += wv[wi] * d;
                  dw[wi] += x[xi] * d;
                }
              }
            }
          }
        }
      }
    }
    // f32 sums of 144 (dx), 8,192 (dW, db) terms of |v| <= 1, relative to the largest value.
    expect(worstVsMax(got.dx, dx, 1e-5)).toBeLessThanOrEqual(1);
    expect(worstVsMax(got.dw, dw, 1e-4)).toBeLessThanOrEqual(1);
    expect(worstVsMax(got.db, db, 1e-4)).toBeLessThanOrEqual(1);
  });

  it('runs by default on big launches where a tile fits, and not elsewhere', async (ctx) => {
    expect(chooseHaloTiles({ cout: 16, h: 32, w: 32 })).toEqual({ tm: 16, oht: 4, owt: 8 });
    expect(chooseHaloTiles({ cout: 64, h: 6, w: 16 })).toEqual({ tm: 16, oht: 2, owt: 8 });
    expect(chooseHaloTiles({ cout: 4, h: 7, w: 4 })).toEqual({ tm: 8, oht: 1, owt: 4 });
    // 28 = 7 segments of 4: row neighbours would straddle subgroups.
    expect(chooseHaloTiles({ cout: 16, h: 28, w: 28 })).toBeUndefined();
    expect(chooseHaloTiles({ cout: 16, h: 6, w: 6 })).toBeUndefined();
    const gpu = await getGpu();
    needFeature(ctx, 'halo-conv', haloSubgroups(gpu), HALO_NEEDS);
    const layer = { n: 64, cin: 16, cout: 16, kh: 3, kw: 3, stride: 1, padH: 1, padW: 1, oh: 32, ow: 32 };
    expect(haloFor(gpu, layer, {})).toEqual({ tm: 16, oht: 4, owt: 8 });
    expect(haloFor(gpu, { ...layer, n: 1 }, {})).toBeUndefined();
    expect(haloFor(gpu, { ...layer, stride: 2 }, {})).toBeUndefined();
    expect(haloFor(gpu, layer, { tiles: { lanes: 8, tm: 8, owt: 8 } })).toBeUndefined();
  });

  it('rejects halo tiles that do not fit, naming them', async (ctx) => {
    const gpu = await getGpu();
    needFeature(ctx, 'halo-conv', haloSubgroups(gpu), HALO_NEEDS);
    const x = gpu.zeros([1, 2, 8, 12]);
    const w = gpu.zeros([8, 2, 3, 3]);
    expect(() => conv2d(gpu, x, w, { padding: 1, halo: { tm: 8, oht: 1, owt: 8 } })).toThrow(
      /do not fit a 8x12/,
    );
    expect(() => conv2d(gpu, x, w, { padding: 0, halo: { tm: 8, oht: 1, owt: 4 } })).toThrow(/padding-1/);
  });
});

describe('conv2d backward (central differences)', () => {
  it.each(CASES)(
    'N=%i Cin=%i %ix%i Cout=%i k=%i stride=%i pad=%i',
    async (n, cin, h, w, cout, k, stride, pad) => {
      await backward({ n, cin, h, w, cout, k, stride, pad, bias: cout % 2 === 1 });
    },
  );

  it('dW folds batch slices in order; every tile shape agrees', async () => {
    const c = { n: 3, cin: 5, h: 9, w: 7, cout: 7, k: 3, stride: 2, pad: 1 };
    await backward(c, { wtiles: { lanes: 8, tm: 8, pw: 8, splits: 3 } });
    await backward(c, { wtiles: { lanes: 8, tm: 4, pw: 12, splits: 2, subgroups: false } });
    await backward(c, { wtiles: { lanes: 64, tm: 2, pw: 4, splits: 1 }, tiles: { lanes: 8, tm: 2, owt: 3 } });
    await backward(
      { ...c, stride: 1, k: 1, pad: 0 },
      { wtiles: { lanes: 16, tm: 16, pw: 4, splits: 2, subgroups: false } },
    );
  });

  it('dW is bit-for-bit repeatable', async () => {
    const gpu = await getGpu();
    const x = gpu.tensor(values(4 * 6 * 10 * 10, 1), [4, 6, 10, 10]);
    const dy = gpu.tensor(values(4 * 8 * 10 * 10, 2), [4, 8, 10, 10]);
    const first = await gpu.readF32(conv2dBackwardWeight(gpu, x, dy, [8, 6, 3, 3], { padding: 1 }));
    const again = await gpu.readF32(conv2dBackwardWeight(gpu, x, dy, [8, 6, 3, 3], { padding: 1 }));
    expect(Buffer.from(again.buffer).equals(Buffer.from(first.buffer))).toBe(true);
  });

  it('slices the batch when there are few weight tiles', () => {
    expect(chooseWgradTiles({ n: 64, cin: 16, cout: 16, kh: 3 }, true).splits).toBeGreaterThan(1);
    expect(chooseWgradTiles({ n: 1, cin: 16, cout: 16, kh: 3 }, true).splits).toBe(1);
  });

  it('rejects a dy that is not the forward output shape', async () => {
    const gpu = await getGpu();
    const x = gpu.zeros([2, 3, 8, 8]);
    const w = gpu.zeros([4, 3, 3, 3]);
    expect(() => conv2dBackward(gpu, x, w, gpu.zeros([2, 4, 8, 8]), { stride: 2, padding: 1 })).toThrow(
      /dy must be \[2, 4, 4, 4\]/,
    );
  });
});
