// Emits the WGSL of the halo-sharing 3x3 convolution (see conv2d-halo.ts for when it runs). The loops over
// output channels, rows, columns and taps are written out here rather than left to the shader compiler:
// NIR stops unrolling past 128 accumulators and a rolled loop over a register array sends it to memory
// (10x slower on lavapipe), while this tile holds up to 512.
//
// Each invocation owns TM output channels x OHT rows x OWT columns of one image, always inside it (the
// launcher only picks tiles that divide OH and OW). Lanes are ordered column segment fastest, then row
// block, then image, and SEGS = OW / OWT divides the subgroup size 8, so lane l +- 1 holds the horizontal
// neighbours of lane l's tile and lane l +- SEGS the vertical ones. Per input channel a lane loads only
// its own OHT x OWT inputs; the one-pixel halo around them comes from the neighbours by subgroup shuffles,
// is zero at the image border (padding 1), and is loaded only where the neighbour tile belongs to
// another subgroup: the top halo of the first SEGS lanes and the bottom halo of the last SEGS. On lavapipe
// every storage read is a per-lane scalar load, so this cuts the input reads of a 4 x 8 tile from 60 to
// 32-42 per channel. Weights are loaded once per 8 channels and shuffled, as in conv2d.wgsl.
//
// Weight addressing is that of conv2d.wgsl: tap (kh, kw) of output channel co and input channel ci is
// Wt[co*sCo + ci*sCi + tapBase + kh*tapStepH + kw*tapStepW], so the stride-1 input gradient (flipped taps,
// channels swapped) runs here too.

import type { Defines } from '../../gpu/shader.js';

/** The compile-time shape of one halo kernel: the generator's input and the pipeline's cache key. */
export type HaloKernel = {
  /** Output channels per invocation, a multiple of 8. */
  tm: number;
  /** Output rows and columns per invocation; OWT is 4 or 8. */
  oht: number;
  owt: number;
  /** Output (= input) height and width. */
  h: number;
  w: number;
  hasBias: boolean;
  residual: boolean;
  relu: boolean;
  /** Output channels that are not a multiple of TM (the last block's extra channels are not stored). */
  coTail: boolean;
};

/** Subgroup size the kernel is written for: one workgroup is one subgroup. */
export const HALO_LANES = 8;

/** The kernel's WGSL template from its defines (a HaloKernel); the pipeline cache calls it once per shape. */
export function haloConvWgsl(defines: Defines): string {
  return generate(defines as HaloKernel);
}

function generate(k: HaloKernel): string {
  const { tm, oht, owt, h, w } = k;
  const segs = w / owt;
  const rowBlocks = h / oht;
  const groups = tm / HALO_LANES;
  const quads = owt / 4;
  const L: string[] = [];
  const bindings = ['X: array<f32>', 'Wt: array<f32>'];
  if (k.hasBias) bindings.push('Bias: array<f32>');
  if (k.residual) bindings.push('Res: array<vec4f>');
  L.push('enable subgroups;');
  L.push('#include params');
  bindings.forEach((b, i) => {
    L.push(`@group(0) @binding(${i}) var<storage, read> ${b};`);
  });
  L.push(`@group(0) @binding(${bindings.length}) var<storage, read_write> Out: array<vec4f>;`);
  L.push(`@group(0) @binding(${bindings.length + 1}) var<uniform> p: Params;`);
  L.push('');
  L.push(`@compute @workgroup_size(${HALO_LANES})`);
  L.push('fn main(@builtin(workgroup_id) wg: vec3u, @builtin(subgroup_invocation_id) lane: u32) {');
  L.push('  let id = wg.y * p.gridX + wg.x;');
  L.push(`  let co0 = (id % p.coBlocks) * ${tm}u;`);
  L.push(`  let q = (id / p.coBlocks) * ${HALO_LANES}u + lane;`);
  // Lanes past the last position repeat it: they keep the shuffles' sources defined and store nothing.
  L.push('  let qq = min(q, p.positions - 1u);');
  L.push(`  let seg = qq % ${segs}u;`);
  L.push(`  let rb = (qq / ${segs}u) % ${rowBlocks}u;`);
  L.push(`  let n = qq / ${segs * rowBlocks}u;`);
  L.push(`  let core = rb * ${oht * w}u + seg * ${owt}u;`);
  L.push('  let topIn = rb > 0u;');
  L.push(`  let botIn = rb < ${rowBlocks - 1}u;`);
  L.push('  let leftIn = seg > 0u;');
  L.push(`  let rightIn = seg < ${segs - 1}u;`);
  // When a subgroup holds whole images every halo is a neighbour's or padding: nothing to load.
  const wholeImages = HALO_LANES % (segs * rowBlocks) === 0;
  if (!wholeImages) {
    L.push(`  let topLoad = topIn && lane < ${segs}u;`);
    L.push(`  let botLoad = botIn && lane >= ${HALO_LANES - segs}u;`);
    L.push(`  let topOff = select(0u, core - ${w}u, topIn);`);
    L.push(`  let botOff = core + ${oht * w}u;`);
    L.push('  let leftOff = select(0u, 1u, leftIn);');
    L.push(`  let rightOff = select(0u, ${owt}u, rightIn);`);
  }
  for (let g = 0; g < groups; g++) {
    L.push(`  let wc${g} = min(co0 + ${g * HALO_LANES}u + lane, p.cout - 1u) * p.sCo;`);
  }
  for (let t = 0; t < 9; t++) {
    L.push(`  let tap${t} = u32(p.tapBase + ${Math.floor(t / 3)} * p.tapStepH + ${t % 3} * p.tapStepW);`);
  }
  const acc = (i: number, r: number, j: number) => `a${(i * oht + r) * quads + j}`;
  for (let i = 0; i < tm; i++) {
    for (let r = 0; r < oht; r++)
      for (let j = 0; j < quads; j++) L.push(`  var ${acc(i, r, j)} = vec4f(0.0);`);
  }
  L.push(`  var xb = n * p.cin * ${h * w}u;`);
  L.push('  var wb = 0u;');
  L.push('  for (var ci = 0u; ci < p.cin; ci++) {');
  // x<r>_<c>: window row r (0 = top halo, oht + 1 = bottom halo), column c (0 = left halo).
  const x = (r: number, c: number) => `x${r}_${c}`;
  for (let r = 1; r <= oht; r++) {
    for (let c = 1; c <= owt; c++) L.push(`    let ${x(r, c)} = X[xb + core + ${(r - 1) * w + c - 1}u];`);
  }
  for (let r = 1; r <= oht; r++) {
    if (segs === 1) {
      L.push(`    let ${x(r, 0)} = 0.0;`);
      L.push(`    let ${x(r, owt + 1)} = 0.0;`);
    } else {
      L.push(`    let ${x(r, 0)} = select(0.0, subgroupShuffleUp(${x(r, owt)}, 1u), leftIn);`);
      L.push(`    let ${x(r, owt + 1)} = select(0.0, subgroupShuffleDown(${x(r, 1)}, 1u), rightIn);`);
    }
  }
  const halo = [
    { r: 0, from: oht, dir: 'Up', inside: 'topIn', load: 'topLoad', off: 'topOff' },
    { r: oht + 1, from: 1, dir: 'Down', inside: 'botIn', load: 'botLoad', off: 'botOff' },
  ];
  for (const e of halo) {
    for (let c = 0; c <= owt + 1; c++) {
      L.push(
        `    ${wholeImages ? 'let' : 'var'} ${x(e.r, c)} = select(0.0, subgroupShuffle${e.dir}(${x(e.from, c)}, ${segs}u), ${e.inside});`,
      );
    }
    if (wholeImages) continue;
    L.push(`    if (${e.load}) {`);
    for (let c = 1; c <= owt; c++) L.push(`      ${x(e.r, c)} = X[xb + ${e.off} + ${c - 1}u];`);
    if (segs > 1) {
      L.push(`      ${x(e.r, 0)} = select(0.0, X[xb + ${e.off} - leftOff], leftIn);`);
      L.push(`      ${x(e.r, owt + 1)} = select(0.0, X[xb + ${e.off} + rightOff], rightIn);`);
    }
    L.push('    }');
  }
  for (let g = 0; g < groups; g++) {
    for (let t = 0; t < 9; t++) L.push(`    let wl${g}_${t} = Wt[wc${g} + wb + tap${t}];`);
  }
  for (let i = 0; i < tm; i++) {
    const g = Math.floor(i / HALO_LANES);
    for (let t = 0; t < 9; t++) {
      L.push(`    let w${i}_${t} = subgroupShuffle(wl${g}_${t}, ${i % HALO_LANES}u);`);
    }
    for (let r = 0; r < oht; r++) {
      for (let j = 0; j < quads; j++) {
        // One chained expression per accumulator and channel: one (masked) store instead of nine.
        const terms: string[] = [];
        for (let t = 0; t < 9; t++) {
          const [kh, kw] = [Math.floor(t / 3), t % 3];
          const xs = [0, 1, 2, 3].map((u) => x(r + kh, 4 * j + u + kw));
          terms.push(`vec4f(${xs.join(', ')}) * w${i}_${t}`);
        }
        L.push(`    ${acc(i, r, j)} = ${acc(i, r, j)} + ${terms.join(' + ')};`);
      }
    }
  }
  L.push(`    xb += ${h * w}u;`);
  L.push('    wb += p.sCi;');
  L.push('  }');
  L.push('  if (q >= p.positions) {');
  L.push('    return;');
  L.push('  }');
  for (let i = 0; i < tm; i++) {
    const co = `co0 + ${i}u`;
    L.push(k.coTail ? `  if (${co} < p.cout) {` : '  {');
    L.push(`    let o${i} = ((n * p.cout + ${co}) * ${h * w}u + core) / 4u;`);
    L.push(`    let b${i} = vec4f(${k.hasBias ? `Bias[${co}]` : '0.0'});`);
    for (let r = 0; r < oht; r++) {
      for (let j = 0; j < quads; j++) {
        const o = `o${i} + ${(r * w + 4 * j) / 4}u`;
        let v = `${acc(i, r, j)} + b${i}`;
        if (k.residual) v += ` + Res[${o}]`;
        if (k.relu) v = `max(${v}, vec4f(0.0))`;
        L.push(`    Out[${o}] = ${v};`);
      }
    }
    L.push('  }');
  }
  L.push('}');
  return `${L.join('\n')}\n`;
}
