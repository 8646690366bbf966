// Emits the WGSL of the whole-plane convolution kernels (see conv2d-plane.ts for when they run): one
// invocation per image (forward) or per input channel (weight gradient) holds every output of a small
// plane (7x7: a CIFAR / Fashion-MNIST ResNet's last stage), with the plane's sizes, padding and taps
// known when the code is written. So a tap that lands on padding is never multiplied and no input is
// loaded twice: per input channel the forward loads the H x W plane once (49 reads for 7x7, against 70 in
// the row-window kernel, which also computes an eighth column for nothing) for TM x 361 multiply-adds.
// The loops are written out (as in conv2d-halo-wgsl.ts): NIR would leave them rolled and send the
// register arrays to memory.
//
// Both kernels add their terms in the order the general kernels do (conv2d.wgsl: input channel, then kh,
// then kw; conv2d-wgrad.wgsl: image, row, column, four running sums by column mod 4 added pairwise at the
// end), so their outputs are the general kernels' bit for bit: skipping a padded tap skips adding a zero.

import type { Defines } from '../../gpu/shader.js';
import { uniforms } from '../../gpu/uniforms.js';
import type { Geometry } from './conv2d-shape.js';

/** Subgroup size the kernels are written for: one workgroup is one subgroup. */
export const PLANE_LANES = 8;

/**
 * The compile-time geometry of one launch (the generators' input and the pipelines' cache key): input
 * plane h x w, output plane oh x ow, taps, stride and padding, with TM output channels per invocation (a
 * multiple of 8, shared as weights or dY) and whether cout leaves a partial last block of channels.
 */
export type PlaneGeometry = Omit<Geometry, 'n' | 'cin' | 'cout'> & { tm: number; coTail: boolean };

/**
 * The forward kernel adds a bias and applies a ReLU, but has no residual input: its per-output loads
 * (392 bounds-checked reads per lane at 7x7) took LLVM minutes to compile.
 */
export type PlaneKernel = PlaneGeometry & { hasBias: boolean; relu: boolean };

/** The weight-gradient kernel's uniforms. */
export const planeWgradParams = uniforms({ batch: 'u32', cin: 'u32', cout: 'u32', nPerSplit: 'u32' });

/** Input (row, column) that output (oh, ow) reads through tap (kh, kw), or undefined on padding. */
function source(
  g: PlaneGeometry,
  oh: number,
  ow: number,
  kh: number,
  kw: number,
): [number, number] | undefined {
  const r = oh * g.stride + kh - g.padH;
  const c = ow * g.stride + kw - g.padW;
  return r >= 0 && r < g.h && c >= 0 && c < g.w ? [r, c] : undefined;
}

/** Loads of the invocation's input plane for one channel at X[xb]: `x<r>_<c>`. */
function loadPlane(L: string[], g: PlaneGeometry): void {
  for (let r = 0; r < g.h; r++) {
    for (let c = 0; c < g.w; c++) L.push(`    let x${r}_${c} = X[xb + ${r * g.w + c}u];`);
  }
}

function header(L: string[], storage: string[], out: string): void {
  L.push('enable subgroups;');
  L.push('#include params');
  storage.forEach((b, i) => {
    L.push(`@group(0) @binding(${i}) var<storage, read> ${b};`);
  });
  L.push(`@group(0) @binding(${storage.length}) var<storage, read_write> ${out};`);
  L.push(`@group(0) @binding(${storage.length + 1}) var<uniform> p: Params;`);
  L.push('');
  L.push(`@compute @workgroup_size(${PLANE_LANES})`);
  L.push('fn main(@builtin(workgroup_id) wg: vec3u, @builtin(subgroup_invocation_id) lane: u32) {');
}

/** The forward kernel's WGSL from its defines (a PlaneKernel); the pipeline cache calls it once per shape. */
export function planeConvWgsl(defines: Defines): string {
  const k = defines as PlaneKernel;
  const { tm, oh, ow, kh, kw } = k;
  const groups = tm / PLANE_LANES;
  const L: string[] = [];
  const storage = ['X: array<f32>', 'Wt: array<f32>'];
  if (k.hasBias) storage.push('Bias: array<f32>');
  header(L, storage, 'Out: array<f32>');
  L.push('  let id = wg.y * p.gridX + wg.x;');
  L.push(`  let co0 = (id % p.coBlocks) * ${tm}u;`);
  L.push(`  let q = (id / p.coBlocks) * ${PLANE_LANES}u + lane;`);
  // Lanes past the last image repeat it: they keep the shuffles' sources defined and store nothing.
  L.push('  let n = min(q, p.positions - 1u);');
  for (let g = 0; g < groups; g++) {
    L.push(`  let wc${g} = min(co0 + ${g * PLANE_LANES}u + lane, p.cout - 1u) * p.sCo;`);
  }
  for (let t = 0; t < kh * kw; t++) {
    L.push(`  let tap${t} = u32(p.tapBase + ${Math.floor(t / kw)} * p.tapStepH + ${t % kw} * p.tapStepW);`);
  }
  const acc = (i: number, o: number) => `a${i}_${o}`;
  for (let i = 0; i < tm; i++) {
    for (let o = 0; o < oh * ow; o++) L.push(`  var ${acc(i, o)} = 0.0;`);
  }
  L.push(`  var xb = n * p.cin * ${k.h * k.w}u;`);
  L.push('  var wb = 0u;');
  L.push('  for (var ci = 0u; ci < p.cin; ci++) {');
  loadPlane(L, k);
  for (let g = 0; g < groups; g++) {
    for (let t = 0; t < kh * kw; t++) L.push(`    let wl${g}_${t} = Wt[wc${g} + wb + tap${t}];`);
  }
  for (let i = 0; i < tm; i++) {
    const g = Math.floor(i / PLANE_LANES);
    for (let t = 0; t < kh * kw; t++) {
      L.push(`    let w${i}_${t} = subgroupShuffle(wl${g}_${t}, ${i % PLANE_LANES}u);`);
    }
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        // One chained expression per accumulator: one store instead of one per tap.
        const terms: string[] = [];
        for (let t = 0; t < kh * kw; t++) {
          const at = source(k, y, x, Math.floor(t / kw), t % kw);
          if (at) terms.push(`x${at[0]}_${at[1]} * w${i}_${t}`);
        }
        const a = acc(i, y * ow + x);
        if (terms.length) L.push(`    ${a} = ${a} + ${terms.join(' + ')};`);
      }
    }
  }
  L.push(`    xb += ${k.h * k.w}u;`);
  L.push('    wb += p.sCi;');
  L.push('  }');
  L.push('  if (q >= p.positions) {');
  L.push('    return;');
  L.push('  }');
  for (let i = 0; i < tm; i++) {
    const co = `co0 + ${i}u`;
    L.push(k.coTail ? `  if (${co} < p.cout) {` : '  {');
    L.push(`    let o${i} = (n * p.cout + ${co}) * ${oh * ow}u;`);
    L.push(`    let b${i} = ${k.hasBias ? `Bias[${co}]` : '0.0'};`);
    for (let o = 0; o < oh * ow; o++) {
      const v = `${acc(i, o)} + b${i}`;
      L.push(`    Out[o${i} + ${o}u] = ${k.relu ? `max(${v}, 0.0)` : v};`);
    }
    L.push('  }');
  }
  L.push('}');
  return `${L.join('\n')}\n`;
}

/**
 * The weight-gradient kernel's WGSL from its defines (a PlaneGeometry). Invocation = one input channel
 * (wg.x blocks of 8), wg.y = block of TM output channels, wg.z = batch slice; P[slice, co, ci, kh, kw]
 * as conv2d-wgrad.wgsl writes it. Each lane loads the dY plane of one output channel per group of 8 and
 * subgroupShuffle hands it to the lanes, whose input channels differ.
 */
export function planeWgradWgsl(defines: Defines): string {
  const k = defines as PlaneGeometry;
  const { tm, oh, ow, kh, kw } = k;
  const taps = kh * kw;
  const groups = tm / PLANE_LANES;
  const plane = oh * ow;
  const L: string[] = [];
  header(L, ['X: array<f32>', 'DY: array<f32>'], 'Part: array<f32>');
  L.push(`  let r = wg.x * ${PLANE_LANES}u + lane;`);
  L.push('  let ci = min(r, p.cin - 1u);');
  L.push(`  let co0 = wg.y * ${tm}u;`);
  L.push('  let n0 = wg.z * p.nPerSplit;');
  L.push('  let n1 = min(p.batch, n0 + p.nPerSplit);');
  for (let g = 0; g < groups; g++) {
    L.push(`  let dc${g} = min(co0 + ${g * PLANE_LANES}u + lane, p.cout - 1u) * ${plane}u;`);
  }
  // a<i>_<t>_<c>: output channel i, tap t, the running sum of the columns c, c + 4, ...
  const acc = (i: number, t: number, c: number) => `a${i}_${t}_${c}`;
  for (let i = 0; i < tm; i++) {
    for (let t = 0; t < taps; t++) for (let c = 0; c < 4; c++) L.push(`  var ${acc(i, t, c)} = 0.0;`);
  }
  L.push('  for (var n = n0; n < n1; n++) {');
  L.push(`    let xb = (n * p.cin + ci) * ${k.h * k.w}u;`);
  L.push(`    let db = n * p.cout * ${plane}u;`);
  loadPlane(L, k);
  for (let g = 0; g < groups; g++) {
    for (let o = 0; o < plane; o++) L.push(`    let dl${g}_${o} = DY[db + dc${g} + ${o}u];`);
  }
  for (let i = 0; i < tm; i++) {
    const g = Math.floor(i / PLANE_LANES);
    for (let o = 0; o < plane; o++) {
      L.push(`    let d${i}_${o} = subgroupShuffle(dl${g}_${o}, ${i % PLANE_LANES}u);`);
    }
    for (let t = 0; t < taps; t++) {
      for (let c = 0; c < 4; c++) {
        const terms: string[] = [];
        for (let y = 0; y < oh; y++) {
          for (let x = c; x < ow; x += 4) {
            const at = source(k, y, x, Math.floor(t / kw), t % kw);
            if (at) terms.push(`d${i}_${y * ow + x} * x${at[0]}_${at[1]}`);
          }
        }
        const a = acc(i, t, c);
        if (terms.length) L.push(`    ${a} = ${a} + ${terms.join(' + ')};`);
      }
    }
  }
  L.push('  }');
  L.push('  if (r >= p.cin) {');
  L.push('    return;');
  L.push('  }');
  L.push(`  let perCo = p.cin * ${taps}u;`);
  L.push(`  let base = wg.z * p.cout * perCo + ci * ${taps}u;`);
  for (let i = 0; i < tm; i++) {
    L.push(k.coTail ? `  if (co0 + ${i}u < p.cout) {` : '  {');
    for (let t = 0; t < taps; t++) {
      const [a0, a1, a2, a3] = [0, 1, 2, 3].map((c) => acc(i, t, c));
      L.push(`    Part[base + (co0 + ${i}u) * perCo + ${t}u] = (${a0} + ${a1}) + (${a2} + ${a3});`);
    }
    L.push('  }');
  }
  L.push('}');
  return `${L.join('\n')}\n`;
}
