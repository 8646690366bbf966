// Batched C = act(alpha * op(A) op(B) + bias), op = optional transpose; A is M x K, B is K x N after op.
// A workgroup is LANES invocations along N; each lane keeps TM rows x TN vec4 column groups of C in
// registers (columns lane*4 + j*LANES*4), walks its K range four at a time and writes once. No workgroup
// memory: on CPU adapters (lavapipe) barriers cost more than they save, and on GPUs the lanes' B reads are
// coalesced while A reads are the same address for the whole workgroup.
// A_VEC / B_VEC: operands read as vec4 (needs A un-transposed with K % 4 == 0, B un-transposed with
// N % 4 == 0); otherwise four scalar reads, clamped in range, with A zeroed past the K range so the tail
// adds nothing. SPLIT: this launch covers one K slice (wg.z = batch * splits + slice) and writes raw
// partial sums; gemm-splitk.wgsl then folds the slices in order and applies the epilogue.
// HAS_BIAS with BIAS_N (one value per column) or BIAS_M (per row); bias and activation run here unless
// SPLIT, when gemm-splitk.wgsl applies them. ELEM_A / ELEM_B / OUT: storage types (f32 or f16), each on its
// own (f32 activations x f16 weights); every value is widened to f32 as it is read.
// ACCUMULATE (f32 C, no split, bias or activation): the accumulators start from C's values, so a K range
// done over several launches runs the same FMA chain as one launch over all of K.
// SHUFFLE_A (TM = GROUPS x LANES, LANES == subgroup size): lane l reads rows m0 + g * LANES + l of A and
// the rows reach every lane by subgroupShuffle. On lavapipe every storage read is a per-lane,
// per-component, bounds-checked scalar load, so this cuts A's reads by LANES and lets TM grow to 32,
// which spreads each B read over 32 rows (1024^3: 7.5 -> 25 GFLOP/s).
#if ${F16}
enable f16;
#endif
#if ${SHUFFLE_A}
enable subgroups;
#endif

// Params: the uniforms declared in src/ops/linalg/gemm.ts.
#include params

#if ${A_VEC}
@group(0) @binding(0) var<storage, read> A: array<vec4<${ELEM_A}>>;
#else
@group(0) @binding(0) var<storage, read> A: array<${ELEM_A}>;
#endif
#if ${B_VEC}
@group(0) @binding(1) var<storage, read> B: array<vec4<${ELEM_B}>>;
#else
@group(0) @binding(1) var<storage, read> B: array<${ELEM_B}>;
#endif
#if ${HAS_BIAS}
@group(0) @binding(2) var<storage, read> Bias: array<f32>;
#endif
#if ${C_VEC}
@group(0) @binding(${BIND_C}) var<storage, read_write> C: array<vec4<${OUT}>>;
#else
@group(0) @binding(${BIND_C}) var<storage, read_write> C: array<${OUT}>;
#endif
@group(0) @binding(${BIND_P}) var<uniform> p: Params;

#if ${A_VEC}
#else
fn a_at(base: u32, m: u32, k: u32) -> f32 {
#if ${TRANS_A}
  return f32(A[base + k * p.m + m]);
#else
  return f32(A[base + m * p.k + k]);
#endif
}
#endif

#if ${B_VEC}
#else
fn b_at(base: u32, k: u32, n: u32) -> f32 {
#if ${TRANS_B}
  return f32(B[base + n * p.k + k]);
#else
  return f32(B[base + k * p.n + n]);
#endif
}
#endif

// A[m, k..k+3], zero at and past kEnd.
fn load_a(base: u32, m: u32, k: u32, kEnd: u32) -> vec4f {
#if ${A_VEC}
  return vec4f(A[(base + m * p.k + k) / 4u]);
#else
  let last = p.k - 1u;
  return vec4f(
    select(0.0, a_at(base, m, min(k, last)), k < kEnd),
    select(0.0, a_at(base, m, min(k + 1u, last)), k + 1u < kEnd),
    select(0.0, a_at(base, m, min(k + 2u, last)), k + 2u < kEnd),
    select(0.0, a_at(base, m, min(k + 3u, last)), k + 3u < kEnd));
#endif
}

// B[k, n..n+3]; columns past N read a valid (clamped) element that the store then drops.
fn load_b(base: u32, k: u32, n: u32) -> vec4f {
#if ${B_VEC}
  return vec4f(B[(base + k * p.n + n) / 4u]);
#else
  let last = p.n - 1u;
  return vec4f(b_at(base, k, min(n, last)), b_at(base, k, min(n + 1u, last)),
               b_at(base, k, min(n + 2u, last)), b_at(base, k, min(n + 3u, last)));
#endif
}

@compute @workgroup_size(${LANES})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let batch = wg.z / p.splits;
  let slice = wg.z % p.splits;
  let baseA = batch * p.strideA;
  let baseB = batch * p.strideB;
  let m0 = wg.y * ${TM}u;
  let n0 = wg.x * ${TILE_N}u + lane * 4u;
  let kStart = slice * p.kPerSplit;
  let kEnd = min(p.k, kStart + p.kPerSplit);

  var rows: array<u32, ${TM}>;
  for (var i = 0u; i < ${TM}u; i++) {
    rows[i] = min(m0 + i, p.m - 1u);
  }
  var acc: array<array<vec4f, ${TN}>, ${TM}>;
#if ${ACCUMULATE}
  for (var i = 0u; i < ${TM}u; i++) {
    for (var j = 0u; j < ${TN}u; j++) {
      let n = n0 + j * ${COL_STRIDE}u;
      let at = wg.z * p.m * p.n + rows[i] * p.n;
#if ${C_VEC}
      if (n < p.n) {
        acc[i][j] = vec4f(C[(at + n) / 4u]);
      }
#else
      let last = p.n - 1u;
      acc[i][j] = vec4f(C[at + min(n, last)], C[at + min(n + 1u, last)], C[at + min(n + 2u, last)],
                        C[at + min(n + 3u, last)]);
#endif
    }
  }
#endif
  let kLast = p.k - 1u;
  for (var k = kStart; k < kEnd; k += 4u) {
#if ${SHUFFLE_A}
    var mine: array<vec4f, ${GROUPS}>;
    for (var g = 0u; g < ${GROUPS}u; g++) {
      mine[g] = load_a(baseA, min(m0 + g * ${LANES}u + lane, p.m - 1u), k, kEnd);
    }
#else
    var a: array<vec4f, ${TM}>;
    for (var i = 0u; i < ${TM}u; i++) {
      a[i] = load_a(baseA, rows[i], k, kEnd);
    }
#endif
    for (var j = 0u; j < ${TN}u; j++) {
      let n = n0 + j * ${COL_STRIDE}u;
#if ${A_VEC}
      // K % 4 == 0 and slices are multiples of 4: k + 3 is always in range.
      let b0 = load_b(baseB, k, n);
      let b1 = load_b(baseB, k + 1u, n);
      let b2 = load_b(baseB, k + 2u, n);
      let b3 = load_b(baseB, k + 3u, n);
#else
      let b0 = load_b(baseB, k, n);
      let b1 = load_b(baseB, min(k + 1u, kLast), n);
      let b2 = load_b(baseB, min(k + 2u, kLast), n);
      let b3 = load_b(baseB, min(k + 3u, kLast), n);
#endif
      // One expression per accumulator: lavapipe stores a variable through the execution mask on every
      // assignment, so four chained FMAs per store run ~20% faster than four assignments.
      for (var i = 0u; i < ${TM}u; i++) {
#if ${SHUFFLE_A}
        let ai = subgroupShuffle(mine[i / ${LANES}u], i % ${LANES}u);
#else
        let ai = a[i];
#endif
        acc[i][j] = fma(vec4f(ai.w), b3, fma(vec4f(ai.z), b2, fma(vec4f(ai.y), b1, fma(vec4f(ai.x), b0, acc[i][j]))));
      }
    }
  }

  let baseC = wg.z * p.m * p.n;
  for (var i = 0u; i < ${TM}u; i++) {
    let m = m0 + i;
    if (m >= p.m) {
      break;
    }
    for (var j = 0u; j < ${TN}u; j++) {
#if ${C_VEC}
      // N % 4 == 0: a lane's four columns are all in range or all out, and one vec4 store replaces four.
      let n = n0 + j * ${COL_STRIDE}u;
      if (n < p.n) {
        let v = acc[i][j];
#if ${SPLIT}
        C[(baseC + m * p.n + n) / 4u] = v;
#else
        C[(baseC + m * p.n + n) / 4u] = vec4<${OUT}>(vec4f(epilogue(v.x, m, n), epilogue(v.y, m, n + 1u),
                                                          epilogue(v.z, m, n + 2u), epilogue(v.w, m, n + 3u)));
#endif
      }
#else
      for (var c = 0u; c < 4u; c++) {
        let n = n0 + j * ${COL_STRIDE}u + c;
        if (n < p.n) {
#if ${SPLIT}
          C[baseC + m * p.n + n] = acc[i][j][c];
#else
          C[baseC + m * p.n + n] = ${OUT}(epilogue(acc[i][j][c], m, n));
#endif
        }
      }
#endif
    }
  }
}

#include gemm-epilogue
