import wgradWgsl from '../../../shaders/conv2d-wgrad.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { conv2dWgrad as wtun } from '../../tunables.js';
import { foldSlices } from '../reduce/fold.js';
import { expectDType } from '../util.js';
import { type PlaneTiles, planeWgradFor, planeWgradLaunch } from './conv2d-plane.js';
import {
  type Conv2dGeometry,
  checkGrad,
  geometry,
  geometryParams,
  includes,
  shuffleWidth,
} from './conv2d-shape.js';

/** conv2d-wgrad.wgsl's uniforms: the geometry, the batch slice and the (ci, kh) rows. */
const wgradParams = uniforms({ ...geometryParams, nPerSplit: 'u32', rows: 'u32' });

export interface WgradTiles {
  lanes: number;
  tm: number;
  /** Output positions per run (one input window load per run), a multiple of 4. */
  pw: number;
  /** Batch slices, folded in order afterwards. */
  splits: number;
  subgroups?: boolean;
}

/** Tiles and batch slices of the weight-gradient kernel (a pure function, tested on its own). */
export function chooseWgradTiles(
  shape: { n: number; cin: number; cout: number; kh: number },
  isCpu: boolean,
): WgradTiles {
  const cfg = isCpu ? wtun.cpu : wtun.gpu;
  let tm = cfg.tm;
  while (tm > 1 && tm / 2 >= shape.cout) tm /= 2;
  const groups = Math.ceil((shape.cin * shape.kh) / cfg.lanes) * Math.ceil(shape.cout / tm);
  const busy = isCpu ? wtun.busyWorkgroups.cpu : wtun.busyWorkgroups.gpu;
  const splits = Math.max(1, Math.min(shape.n, Math.ceil(busy / groups)));
  return { lanes: cfg.lanes, tm, pw: cfg.pw, splits };
}

/** dW [Cout, Cin, KH, KW] of conv2d from the forward input x and dy; deterministic (batch slices folded in order). */
export function conv2dBackwardWeight(
  gpu: Gpu,
  x: Tensor,
  dy: Tensor,
  weightShape: readonly number[],
  opts: Conv2dGeometry & { tiles?: WgradTiles; plane?: PlaneTiles } = {},
): Tensor {
  const op = 'conv2d.backwardWeight';
  expectDType(op, x, 'f32');
  const g = geometry(op, x.shape, weightShape, opts);
  checkGrad(op, g, dy);
  const dw = gpu.empty([g.cout, g.cin, g.kh, g.kw]);
  if (dw.size === 0) return dw;
  if (g.n === 0 || g.oh * g.ow === 0) return gpu.zeros(dw.shape);
  const t = opts.tiles ?? chooseWgradTiles(g, gpu.adapter.isCpu);
  if (t.pw % 4 !== 0) throw new ShapeError(op, `pw must be a multiple of 4, got ${t.pw}`);
  const splits = Math.min(t.splits, g.n);
  const nPerSplit = Math.ceil(g.n / splits);
  const slices = Math.ceil(g.n / nPerSplit);
  const sw = shuffleWidth(gpu, t.tm, t.subgroups);
  const rows = g.cin * g.kh;
  const part = slices === 1 ? dw : gpu.empty([slices, dw.size], 'f32', 'conv2d.wgrad partials');
  const plane = planeWgradFor(gpu, g, opts);
  if (plane) planeWgradLaunch(gpu, x, dy, part, { ...g, slices, nPerSplit }, plane);
  else
    gpu.dispatch({
      kernel: {
        name: 'conv2d.wgrad',
        template: wgradWgsl,
        defines: {
          LANES: t.lanes,
          TM: t.tm,
          PW: t.pw,
          KH: g.kh,
          KW: g.kw,
          STRIDE: g.stride,
          SUBGROUPS: sw > 0,
          SW: Math.max(sw, 1),
          DY_VEC4: g.ow % 4 === 0,
        },
        params: wgradParams,
        includes,
      },
      buffers: [x, dy, part],
      uniforms: {
        batch: g.n,
        cin: g.cin,
        h: g.h,
        w: g.w,
        cout: g.cout,
        oh: g.oh,
        ow: g.ow,
        padH: g.padH,
        padW: g.padW,
        nPerSplit,
        rows,
      },
      workgroups: [Math.ceil(rows / t.lanes), Math.ceil(g.cout / t.tm), slices],
    });
  if (part !== dw) {
    foldSlices(gpu, part, slices, dw);
    part.dispose();
  }
  return dw;
}
