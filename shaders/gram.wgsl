// Symmetric Gram K = X Xᵀ of a row-major X [n, p] with p % 4 == 0 (a SYRK): only the tiles on and above the
// diagonal are computed, and each off-diagonal tile is also written to its mirror, which halves the work
// of a GEMM with transB. Tiles are TILE x TILE with TILE = 4 x LANES: lane l owns columns
// j0 + 4l .. 4l + 3 of the tile and all TILE rows, whose X rows reach every lane by subgroupShuffle
// (lane l loads rows i0 + g * LANES + l, g < 4), as in gemm.wgsl's SHUFFLE_A path. K[i, j] is one fma
// chain over k in order, so the result is deterministic and exactly symmetric.
enable subgroups;

// Params: the uniforms declared in src/ops/linalg/gram.ts.
#include params

@group(0) @binding(0) var<storage, read> X: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> K: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

const TILE = ${TILE}u;

@compute @workgroup_size(${LANES})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  // Triangular tile index t -> (ti, tj) with ti <= tj, column by column: t = tj (tj + 1) / 2 + ti.
  let t = wg.y * p.gridX + wg.x;
  var tj = u32((sqrt(8.0 * f32(t) + 1.0) - 1.0) * 0.5);
  if ((tj + 1u) * (tj + 2u) / 2u <= t) {
    tj += 1u;
  }
  if (tj * (tj + 1u) / 2u > t) {
    tj -= 1u;
  }
  let ti = t - tj * (tj + 1u) / 2u;
  if (tj >= p.tiles) {
    return;
  }
  let i0 = ti * TILE;
  let j0 = tj * TILE + lane * 4u;
  let last = p.n - 1u;
  let c0 = min(j0, last) * p.p4;
  let c1 = min(j0 + 1u, last) * p.p4;
  let c2 = min(j0 + 2u, last) * p.p4;
  let c3 = min(j0 + 3u, last) * p.p4;

  var acc: array<vec4f, ${TILE}>;
  for (var k = 0u; k < p.p4; k++) {
    // Row offsets are recomputed here rather than kept in an array: lavapipe keeps such an array in
    // memory and the loop ran ~2x slower.
    var mine: array<vec4f, 4>;
    for (var g = 0u; g < 4u; g++) {
      mine[g] = X[min(i0 + g * ${LANES}u + lane, last) * p.p4 + k];
    }
    // Columns j0..j0+3 at k..k+3, transposed so that bq holds the four columns at k + q.
    let r0 = X[c0 + k];
    let r1 = X[c1 + k];
    let r2 = X[c2 + k];
    let r3 = X[c3 + k];
    let b0 = vec4f(r0.x, r1.x, r2.x, r3.x);
    let b1 = vec4f(r0.y, r1.y, r2.y, r3.y);
    let b2 = vec4f(r0.z, r1.z, r2.z, r3.z);
    let b3 = vec4f(r0.w, r1.w, r2.w, r3.w);
    for (var i = 0u; i < TILE; i++) {
      let a = subgroupShuffle(mine[i / ${LANES}u], i % ${LANES}u);
      acc[i] = fma(vec4f(a.w), b3, fma(vec4f(a.z), b2, fma(vec4f(a.y), b1, fma(vec4f(a.x), b0, acc[i]))));
    }
  }

  for (var i = 0u; i < TILE; i++) {
    let row = i0 + i;
    if (row >= p.n) {
      break;
    }
    for (var c = 0u; c < 4u; c++) {
      let col = j0 + c;
      if (col < p.n) {
        K[row * p.n + col] = acc[i][c];
        if (ti != tj) {
          K[col * p.n + row] = acc[i][c];
        }
      }
    }
  }
}
