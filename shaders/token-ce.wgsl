// Token cross-entropy over a large vocabulary without a probability buffer: logits [rows, V] (f32),
// targets i32 [rows] (a target outside [0, V), e.g. Hugging Face's -100, is ignored).
// STATS:  one workgroup per (row, vocabulary chunk): the chunk's max, then the sum of exp(x - max) (two
//         sweeps of a cache-sized chunk, one exp per logit), folded by a tree in workgroup memory;
//         partials [rows, chunks, 2].
// FINISH: one invocation per row folds its chunks in order: lse = M + log(sum_c s_c exp(m_c - M));
//         nll = lse - logit[target] (0 when ignored).
// LOSS:   one workgroup: lanes fold rows lane, lane + WG, ... in order, then a tree: [mean nll over counted
//         rows (0 if none), count, sum].
// GRAD:   one invocation per logit: d = (exp(x - lse) - [c == target]) * scale for counted rows, else 0;
//         scale = p.scale / count (mean) or p.scale. IN_PLACE overwrites the logits.
// Vocabulary slices (an LM head too large for one binding, src/nn/llama-head-sliced.ts): the logits hold
// columns v0 .. v0 + vocab of a `total`-column vocabulary. STATS writes its chunks at chunk0 of Part rows
// `stride` chunks long; FINISH (p.chunks = the whole row's chunks) takes the target logit only when the target
// is in the slice (nll 0 otherwise, so the slices' nll add up exactly); GRAD counts every row whose target
// is in [0, total) and subtracts the one-hot at column target - v0. Unsliced: v0 0, total = vocab,
// chunk0 0, stride = chunks: the same arithmetic as before.

// Params: the uniforms declared in src/ops/llm/token-cross-entropy.ts.
#include params

const LOWEST = -0x1.fffffep+127f;

#if ${STATS}
@group(0) @binding(0) var<storage, read> L: array<f32>;
@group(0) @binding(1) var<storage, read_write> Part: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

#include row-reduce

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let id = wg.y * p.gridX + wg.x;
  let valid = id < p.rows * p.chunks;
  let row = min(id / p.chunks, p.rows - 1u);
  let c = id % p.chunks;
  let start = row * p.vocab + c * p.chunk;
  let len = min(p.chunk, p.vocab - c * p.chunk);
  var m = LOWEST;
  for (var j = lane; j < len; j += ${WG}u) {
    m = max(m, L[start + j]);
  }
  let cmax = row_max(m, lane);
  workgroupBarrier();
  var s = 0.0;
  for (var j = lane; j < len; j += ${WG}u) {
    s += exp(L[start + j] - cmax);
  }
  let csum = row_sum(s, lane);
  if (lane == 0u && valid) {
    let at = (row * p.stride + p.chunk0 + c) * 2u;
    Part[at] = cmax;
    Part[at + 1u] = csum;
  }
}
#elif ${FINISH}
@group(0) @binding(0) var<storage, read> L: array<f32>;
@group(0) @binding(1) var<storage, read> Part: array<f32>;
@group(0) @binding(2) var<storage, read> Targets: array<i32>;
@group(0) @binding(3) var<storage, read_write> Lse: array<f32>;
@group(0) @binding(4) var<storage, read_write> Nll: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let row = (wg.y * p.gridX + wg.x) * ${WG}u + lane;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.chunks * 2u;
  var m = LOWEST;
  for (var c = 0u; c < p.chunks; c++) {
    m = max(m, Part[base + c * 2u]);
  }
  var s = 0.0;
  for (var c = 0u; c < p.chunks; c++) {
    s += Part[base + c * 2u + 1u] * exp(Part[base + c * 2u] - m);
  }
  let lse = m + log(s);
  Lse[row] = lse;
  let t = Targets[row];
  var nll = 0.0;
  if (t >= 0 && u32(t) >= p.v0 && u32(t) - p.v0 < p.vocab) {
    nll = lse - L[row * p.vocab + u32(t) - p.v0];
  }
  Nll[row] = nll;
}
#elif ${LOSS}
@group(0) @binding(0) var<storage, read> Nll: array<f32>;
@group(0) @binding(1) var<storage, read> Targets: array<i32>;
@group(0) @binding(2) var<storage, read_write> Loss: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> sums: array<f32, ${WG}>;
var<workgroup> counts: array<u32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lane: u32) {
  var s = 0.0;
  var n = 0u;
  for (var r = lane; r < p.rows; r += ${WG}u) {
    let t = Targets[r];
    if (t >= 0 && u32(t) < p.vocab) {
      s += Nll[r];
      n += 1u;
    }
  }
  sums[lane] = s;
  counts[lane] = n;
  workgroupBarrier();
  for (var half = ${WG}u / 2u; half > 0u; half /= 2u) {
    if (lane < half) {
      sums[lane] = sums[lane] + sums[lane + half];
      counts[lane] = counts[lane] + counts[lane + half];
    }
    workgroupBarrier();
  }
  if (lane == 0u) {
    let count = counts[0];
    Loss[0] = select(0.0, sums[0] / f32(count), count > 0u);
    Loss[1] = f32(count);
    Loss[2] = sums[0];
  }
}
#else
#if ${IN_PLACE}
@group(0) @binding(0) var<storage, read_write> L: array<f32>;
#else
@group(0) @binding(0) var<storage, read> L: array<f32>;
#endif
@group(0) @binding(1) var<storage, read> Lse: array<f32>;
@group(0) @binding(2) var<storage, read> Targets: array<i32>;
@group(0) @binding(3) var<storage, read> Loss: array<f32>;
#if ${IN_PLACE}
@group(0) @binding(4) var<uniform> p: Params;
#else
@group(0) @binding(4) var<storage, read_write> dL: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let id = (wg.y * p.gridX + wg.x) * ${WG}u + lane;
  if (id >= p.rows * p.vocab) {
    return;
  }
  let row = id / p.vocab;
  let c = id % p.vocab;
  let t = Targets[row];
  // mean != 0: divide by the counted rows (read on every path so the binding stays in the layout).
  let scale = p.scale / select(1.0, max(Loss[1], 1.0), p.mean != 0u);
  var d = 0.0;
  if (t >= 0 && u32(t) < p.total) {
    d = (exp(L[id] - Lse[row]) - select(0.0, 1.0, c + p.v0 == u32(t))) * scale;
  }
#if ${IN_PLACE}
  L[id] = d;
#else
  dL[id] = d;
#endif
}
#endif
