// Batched C = act(alpha * op(A) op(B) + bias) for discrete GPUs: the classic shared-memory tiled GEMM.
// (The lavapipe-tuned kernel without workgroup memory is gemm.wgsl; src/ops/linalg/gemm.ts chooses.)
// A workgroup of WGX x WGY invocations owns a BM x BN tile of C (BM = WGY * TM, BN = WGX * TN) and walks K
// in steps of BK: it stages op(A)[BM x BK] and op(B)[BK x BN] in workgroup memory, both stored K-major as
// vec4 (As[k][m4] = rows 4 m4 .. 4 m4 + 3), so the inner loop reads TM / 4 + TN / 4 vec4 per k for TM x TN
// FMAs. An invocation owns rows 4 (ty + i WGY) + r and vec4 column groups tx + j WGX: neighbouring lanes
// read neighbouring vec4 of Bs (no bank conflicts), lanes of one row group read the same As vec4
// (broadcast), and C is stored as coalesced vec4.
// Global loads go along each operand's contiguous axis (K for A, N for B; M for Aᵀ, K for Bᵀ), as vec4
// when that axis is a multiple of 4 (A_VEC / B_VEC), else as four clamped scalars; anything past M, N or
// the K range reads as 0, so partial tiles need no special case. Operands that are contiguous along K are
// scattered into the K-major tiles one component at a time.
// SPLIT: this launch covers one K slice (wg.z = batch * splits + slice) and writes raw partial sums for
// gemm-splitk.wgsl, as gemm.wgsl does. ELEM_A / ELEM_B / OUT: f32 or f16 storage, widened on load; the
// accumulation is always f32.
#if ${F16}
enable f16;
#endif

#include params

const WGX = ${WGX}u;
const WGY = ${WGY}u;
const WG = ${WGX}u * ${WGY}u;
const BK = ${BK}u;
const BM4 = ${WGY}u * ${TM}u / 4u;
const BN4 = ${WGX}u * ${TN}u / 4u;
const TM4 = ${TM}u / 4u;
const TN4 = ${TN}u / 4u;

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

var<workgroup> As: array<vec4f, BK * BM4>;
var<workgroup> Bs: array<vec4f, BK * BN4>;

// Four elements of A along its contiguous axis: row `outer` (of rows `len` long), columns c .. c + 3;
// zero where !ok or past `lim` (ok and lim keep the row and the column in range).
fn load_a(base: u32, outer: u32, c: u32, len: u32, ok: bool, lim: u32) -> vec4f {
#if ${A_VEC}
  // len % 4 == 0 and lim is len or a K-slice end (a multiple of 4): the vec4 is all in or all out.
  if (!ok || c >= lim) {
    return vec4f(0.0);
  }
  return vec4f(A[(base + outer * len + c) / 4u]);
#else
  let row = base + outer * len;
  let last = len - 1u;
  return vec4f(select(0.0, f32(A[row + min(c, last)]), ok && c < lim),
               select(0.0, f32(A[row + min(c + 1u, last)]), ok && c + 1u < lim),
               select(0.0, f32(A[row + min(c + 2u, last)]), ok && c + 2u < lim),
               select(0.0, f32(A[row + min(c + 3u, last)]), ok && c + 3u < lim));
#endif
}

fn load_b(base: u32, outer: u32, c: u32, len: u32, ok: bool, lim: u32) -> vec4f {
#if ${B_VEC}
  if (!ok || c >= lim) {
    return vec4f(0.0);
  }
  return vec4f(B[(base + outer * len + c) / 4u]);
#else
  let row = base + outer * len;
  let last = len - 1u;
  return vec4f(select(0.0, f32(B[row + min(c, last)]), ok && c < lim),
               select(0.0, f32(B[row + min(c + 1u, last)]), ok && c + 1u < lim),
               select(0.0, f32(B[row + min(c + 2u, last)]), ok && c + 2u < lim),
               select(0.0, f32(B[row + min(c + 3u, last)]), ok && c + 3u < lim));
#endif
}

// Stages op(A)[m0 .. m0 + BM, k0 .. k0 + BK] into As (K-major). Slots are ordered so that neighbouring
// invocations read neighbouring addresses of A.
fn stage_a(tid: u32, base: u32, m0: u32, k0: u32, kEnd: u32) {
  for (var s = tid; s < BK * BM4; s += WG) {
#if ${TRANS_A}
    // A stored [K, M]: contiguous along M, straight into As.
    let kk = s / BM4;
    let m4 = s % BM4;
    let k = k0 + kk;
    As[s] = load_a(base, min(k, p.k - 1u), m0 + 4u * m4, p.m, k < kEnd, p.m);
#else
    // A stored [M, K]: contiguous along K, scattered into four K rows of As.
    let kq = s % (BK / 4u);
    let mm = s / (BK / 4u);
    let m = m0 + mm;
    let v = load_a(base, min(m, p.m - 1u), k0 + 4u * kq, p.k, m < p.m, kEnd);
    for (var c = 0u; c < 4u; c++) {
      As[(4u * kq + c) * BM4 + mm / 4u][mm % 4u] = v[c];
    }
#endif
  }
}

fn stage_b(tid: u32, base: u32, n0: u32, k0: u32, kEnd: u32) {
  for (var s = tid; s < BK * BN4; s += WG) {
#if ${TRANS_B}
    // B stored [N, K]: contiguous along K.
    let kq = s % (BK / 4u);
    let nn = s / (BK / 4u);
    let n = n0 + nn;
    let v = load_b(base, min(n, p.n - 1u), k0 + 4u * kq, p.k, n < p.n, kEnd);
    for (var c = 0u; c < 4u; c++) {
      Bs[(4u * kq + c) * BN4 + nn / 4u][nn % 4u] = v[c];
    }
#else
    // B stored [K, N]: contiguous along N.
    let kk = s / BN4;
    let n4 = s % BN4;
    let k = k0 + kk;
    Bs[s] = load_b(base, min(k, p.k - 1u), n0 + 4u * n4, p.n, k < kEnd, p.n);
#endif
  }
}

@compute @workgroup_size(${WGX}, ${WGY})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) tid: u32) {
  let batch = wg.z / p.splits;
  let slice = wg.z % p.splits;
  let baseA = batch * p.strideA;
  let baseB = batch * p.strideB;
  let m0 = wg.y * BM4 * 4u;
  let n0 = wg.x * BN4 * 4u;
  let kStart = slice * p.kPerSplit;
  let kEnd = min(p.k, kStart + p.kPerSplit);
  let tx = lid.x;
  let ty = lid.y;

  var acc: array<array<vec4f, TN4>, ${TM}>;
  for (var k0 = kStart; k0 < kEnd; k0 += BK) {
    stage_a(tid, baseA, m0, k0, kEnd);
    stage_b(tid, baseB, n0, k0, kEnd);
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      var a: array<vec4f, TM4>;
      for (var i = 0u; i < TM4; i++) {
        a[i] = As[kk * BM4 + ty + i * WGY];
      }
      var b: array<vec4f, TN4>;
      for (var j = 0u; j < TN4; j++) {
        b[j] = Bs[kk * BN4 + tx + j * WGX];
      }
      for (var i = 0u; i < TM4; i++) {
        for (var r = 0u; r < 4u; r++) {
          for (var j = 0u; j < TN4; j++) {
            acc[i * 4u + r][j] = fma(vec4f(a[i][r]), b[j], acc[i * 4u + r][j]);
          }
        }
      }
    }
    workgroupBarrier();
  }

  let baseC = wg.z * p.m * p.n;
  for (var i = 0u; i < TM4; i++) {
    for (var r = 0u; r < 4u; r++) {
      let m = m0 + (ty + i * WGY) * 4u + r;
      if (m < p.m) {
        for (var j = 0u; j < TN4; j++) {
          let n = n0 + (tx + j * WGX) * 4u;
          let v = acc[i * 4u + r][j];
#if ${C_VEC}
          // N % 4 == 0: the four columns are all in range or all out.
          if (n < p.n) {
#if ${SPLIT}
            C[(baseC + m * p.n + n) / 4u] = v;
#else
            C[(baseC + m * p.n + n) / 4u] = vec4<${OUT}>(vec4f(epilogue(v.x, m, n), epilogue(v.y, m, n + 1u),
                                                              epilogue(v.z, m, n + 2u), epilogue(v.w, m, n + 3u)));
#endif
          }
#else
          for (var c = 0u; c < 4u; c++) {
            if (n + c < p.n) {
#if ${SPLIT}
              C[baseC + m * p.n + n + c] = v[c];
#else
              C[baseC + m * p.n + n + c] = ${OUT}(epilogue(v[c], m, n + c));
#endif
            }
          }
#endif
        }
      }
    }
  }
}

#include gemm-epilogue
