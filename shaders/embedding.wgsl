// Embedding lookup and its deterministic backward.
// Forward (BACKWARD false): out[t, c] = W[ids[t], c], one invocation per output element. The ids were
// checked against the vocabulary on the CPU when they were uploaded (src/ops/llm/embedding.ts).
// Backward: the CPU builds, from the same ids, a CSR index grouping token positions by vocabulary row
// (rows: the distinct ids; starts: [rows + 1] offsets into order; order: positions sorted by (id,
// position)). One invocation per (distinct row u, column c) sums dY[order[k], c] for k in
// starts[u]..starts[u+1] in ascending position order and writes (ACCUMULATE: adds to) dW[rows[u], c].
// Every dW element has exactly one writer and a fixed summation order: deterministic, no atomics. Rows
// no token uses are left as they were (zeroed by the caller unless accumulating).
// ELEM: the forward table's storage type (f32, or f16 widened to f32 as it is read); gradients are f32.
#if ${F16}
enable f16;
#endif

// Params: the uniforms declared in src/ops/llm/embedding.ts.
#include params

#if ${BACKWARD}
@group(0) @binding(0) var<storage, read> dY: array<f32>;
@group(0) @binding(1) var<storage, read> rows: array<u32>;
@group(0) @binding(2) var<storage, read> starts: array<u32>;
@group(0) @binding(3) var<storage, read> order: array<u32>;
@group(0) @binding(4) var<storage, read_write> dW: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let id = (wg.y * p.gridX + wg.x) * ${WG}u + lane;
  let u = id / p.hidden;
  let c = id % p.hidden;
  if (u >= p.count) {
    return;
  }
  var acc = 0.0;
  let end = starts[u + 1u];
  for (var k = starts[u]; k < end; k++) {
    acc += dY[order[k] * p.hidden + c];
  }
  let at = rows[u] * p.hidden + c;
#if ${ACCUMULATE}
  dW[at] = dW[at] + acc;
#else
  dW[at] = acc;
#endif
}
#else
@group(0) @binding(0) var<storage, read> W: array<${ELEM}>;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let id = (wg.y * p.gridX + wg.x) * ${WG}u + lane;
  let t = id / p.hidden;
  if (t >= p.count) {
    return;
  }
  let c = id % p.hidden;
  Out[id] = f32(W[ids[t] * p.hidden + c]);
}
#endif
