// A cost model for streamed SGLP on the real shapes (bench/shapes.ts): FLOPs and device bytes per stage
// from the shapes, seconds from effective rates measured on a smaller run (defaults: lavapipe on this
// 2-core machine: SmolLM2-135M-shaped `sglp cka --stream`, 444 GFLOP in 36.6 s, and one streamed GradNorm
// candidate, 1,062 GFLOP in 195.9 s; bench/RESULTS.md "Real shapes"). Its output is a PREDICTION.
//   node dist/cost-model.js [--fwd-gflops R] [--fwdbwd-gflops R] [--binding BYTES] [--json]
// Protocol: SGLP.md's text defaults (CKA on 16 windows × 128 tokens in batches of 4; GradNorm on 2 batches
// of 4 windows), K = 6 equal segments, remove a quarter of the layers; every candidate is costed as a
// full streamed GradNorm (forward, recomputed forward, backward: 4 layer forwards; LM head 3), i.e. without
// the search's prefix sharing, so the prune figure is an upper bound of the model.
import { parseArgs } from 'node:util';
import { planSearch } from '../src/sglp/candidates.js';
import { planKeep } from '../src/sglp/keep-plan.js';
import { SHAPE_NAMES, SHAPES, shapeConfig, shapeSummary } from './shapes.js';

const { values: a } = parseArgs({
  options: {
    'fwd-gflops': { type: 'string', default: '12.1' },
    'fwdbwd-gflops': { type: 'string', default: '5.4' },
    binding: { type: 'string', default: String(128 * 2 ** 20) },
    json: { type: 'boolean', default: false },
  },
});
const rFwd = Number(a['fwd-gflops']) * 1e9;
const rBwd = Number(a['fwdbwd-gflops']) * 1e9;
const binding = Number(a.binding);
const T = 128;
const ckaTokens = 16 * T;
const gradTokens = 2 * 4 * T;

const rows = SHAPE_NAMES.map((name) => {
  const s = shapeSummary(name);
  const c = shapeConfig(name) as {
    num_attention_heads: number;
    hidden_size: number;
    vocab_size: number;
    head_dim?: number;
  };
  const D = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  const L = s.layers;
  // FLOPs per token of one layer: 2 per MAC of the projections + causal attention's useful QKᵀ and PV.
  const layerFlopsPerToken = 2 * s.layerMacsPerToken + 2 * c.num_attention_heads * D * (T + 1);
  const headFlopsPerToken = 2 * c.vocab_size * c.hidden_size;
  const ckaFlops = L * layerFlopsPerToken * ckaTokens;
  const candFlops = 4 * L * layerFlopsPerToken * gradTokens + 3 * headFlopsPerToken * gradTokens;
  // K = 6 equal segments (sizes differ by at most one), remove L/4.
  const K = 6;
  const segments: [number, number][] = [];
  for (let k = 0, start = 0; k < K; k++) {
    const size = Math.floor(L / K) + (k < L % K ? 1 : 0);
    segments.push([start, start + size]);
    start += size;
  }
  const remove = Math.floor(L / 4);
  // No stem and no protected layers in a decoder-only LM (SGLP.md §0).
  const plan = planKeep(segments, [], { remove }, { stem: null });
  let candidates = 0n;
  segments.forEach(([start, end], i) => {
    const units = Array.from({ length: end - start }, (_, j) => start + j);
    const keep = plan.keep[i];
    if (keep < units.length) candidates += planSearch(units, [], keep).count;
  });
  const embedF32 = 4 * c.vocab_size * c.hidden_size;
  const layerF32 = 4 * s.layerParams;
  return {
    shape: name,
    model: SHAPES[name].model,
    params: s.params,
    bf16Bytes: s.bytes,
    layers: L,
    layerF32Bytes: layerF32,
    embedF32Bytes: embedF32,
    embedFitsBinding: embedF32 <= binding,
    ckaGflop: ckaFlops / 1e9,
    candidateGflop: candFlops / 1e9,
    remove,
    candidates: Number(candidates),
    predictedCkaS: ckaFlops / rFwd,
    predictedCandidateS: candFlops / rBwd,
    predictedPruneS: ckaFlops / rFwd + (Number(candidates) * candFlops) / rBwd,
    // Streamed peaks: CKA = largest upload (embedding or layer) + every batch's CKA state (L grams of
    // 512² floats per batch, 4 batches); GradNorm = LM head weight + its running gradient + one slice's
    // gradient (each vocab × hidden f32) + a layer.
    predictedCkaPeakBytes: Math.max(embedF32, layerF32) + 4 * L * 512 * 512 * 4,
    predictedGradPeakBytes: 3 * embedF32 + layerF32,
  };
});
if (a.json) process.stdout.write(`${JSON.stringify({ rFwd, rBwd, binding, rows })}\n`);
else {
  const f = (x: number, d = 1) => x.toLocaleString('en', { maximumFractionDigits: d });
  process.stdout.write(
    '| shape | params | layers | layer f32 MB | embed f32 MB (fits binding) | CKA GFLOP | candidate GFLOP | remove | candidates | CKA s | candidate s | prune s (upper) | CKA peak MB | GradNorm peak MB |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n',
  );
  for (const r of rows) {
    process.stdout.write(
      `| ${r.shape} | ${f(r.params / 1e6)} M | ${r.layers} | ${f(r.layerF32Bytes / 1e6)} | ${f(r.embedF32Bytes / 1e6)} (${r.embedFitsBinding ? 'yes' : 'no'}) | ${f(r.ckaGflop, 0)} | ${f(r.candidateGflop, 0)} | ${r.remove} | ${r.candidates} | ${f(r.predictedCkaS, 0)} | ${f(r.predictedCandidateS, 0)} | ${f(r.predictedPruneS, 0)} | ${f(r.predictedCkaPeakBytes / 1e6, 0)} | ${f(r.predictedGradPeakBytes / 1e6, 0)} |\n`,
    );
  }
}
