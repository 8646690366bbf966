// GradNorm search timing on a real checkpoint: scores the first COUNT keep-sets (lexicographic, the
// exhaustive search's order) of segment [A, B) keeping KEEP units, with the default GradNorm protocol
// (2 batches of the first 64 Fashion-MNIST train samples), after one warm-up candidate; prints wall and
// process-CPU ms per candidate. GS_MODE=shared (default) | plain | both | bounded (shared, each candidate
// given the best score so far as a min search does: stops early) | ab (shared then bounded, alternating
// in blocks of GS_BLOCK candidates, default 5); GS_SCORES=1 prints the scores;
// SGLP_PROFILE=1 adds the per-kernel GPU time table. Build and run:
//   npx esbuild bench/gradnorm-search.ts --bundle --platform=node --format=esm --packages=external \
//     --loader:.wgsl=text --outfile=dist/gradnorm-search.js
//   GS_MODE=both node dist/gradnorm-search.js models/fmnist-resnet56 2 17 6 5   # MODEL A B COUNT KEEP
import { describeModel } from '../src/arch/describe.js';
import { imageBatches } from '../src/io/batches.js';
import { openCheckpoint } from '../src/io/safetensors-index.js';
import { ParamStore } from '../src/nn/params.js';
import { loadImageDataset } from '../src/node/datasets.js';
import { acquireDevice } from '../src/node/device.js';
import { directorySource } from '../src/node/files.js';
import { readRunnableConfig } from '../src/node/model-dir.js';
import { keepSets } from '../src/sglp/candidates.js';
import { segmentScorer, uploadGradNormBatches } from '../src/sglp/importance.js';

const [model = 'models/fmnist-resnet56', a = '2', b = '17', count = '10', keepArg = '5'] =
  process.argv.slice(2);
const mode = process.env.GS_MODE ?? 'shared';
const config = await readRunnableConfig(model);
const desc = describeModel(config);
const train = await loadImageDataset('fashion-mnist', 'train');
const gpu = await acquireDevice({ profile: process.env.SGLP_PROFILE === '1' });
const params = await ParamStore.load(gpu, desc, await openCheckpoint(directorySource(model)));
const host = [...imageBatches(train, { batchSize: 64, normalize: config.normalize, limit: 128 })];
const segment: [number, number] = [Number(a), Number(b)];
const units = Array.from({ length: segment[1] - segment[0] }, (_, k) => segment[0] + k);
const prot = desc.units.filter((u) => u.protected).map((u) => u.index);
const sets = [...keepSets(units, prot, Number(keepArg))].slice(0, Number(count));
const modes: Record<string, string[]> = { both: ['plain', 'shared'], ab: ['shared', 'bounded'] };
const block = Number(process.env.GS_BLOCK ?? 5);
const scorers = (modes[mode] ?? [mode]).map((m) => {
  const counters = { forward: 0, backward: 0 };
  // Each scorer its own copy of the batches: a scorer releases earlier scorers of the same batches.
  const batches = uploadGradNormBatches(gpu, desc, host);
  const score = segmentScorer(gpu, desc, params, segment, batches, { counters, share: m !== 'plain' });
  return { m, counters, score, ms: 0, cpuMs: 0, best: Number.POSITIVE_INFINITY, out: [] as string[] };
});
for (const r of scorers) r.best = await r.score(sets[0]); // warm-up: pipelines compiled, prefix cached
// 'ab' alternates blocks of candidates so that both modes see the same load; the others run one by one.
const order = mode === 'ab' ? [] : scorers.map((r) => ({ r, from: 1, to: sets.length }));
for (let from = 1; mode === 'ab' && from < sets.length; from += block) {
  for (const r of scorers) order.push({ r, from, to: Math.min(sets.length, from + block) });
}
for (const { r, from, to } of order) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (const s of sets.slice(from, to)) {
    const v = await r.score(s, r.m === 'bounded' ? r.best : undefined);
    if (typeof v === 'number' && v < r.best) r.best = v;
    r.out.push(`${s.join(',')}=${typeof v === 'number' ? v : `>=${v.atLeast}`}`);
  }
  r.ms += performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  r.cpuMs += (cpu.user + cpu.system) / 1000;
}
for (const { m, counters, score, out, ms: wall, cpuMs: cpuAll } of scorers) {
  const ms = wall / (sets.length - 1);
  // Process CPU time (lavapipe's threads included): steadier than wall time on a shared machine.
  const cpuMs = cpuAll / (sets.length - 1);
  console.log(
    JSON.stringify({
      mode: m,
      segment,
      timed: sets.length - 1,
      msPerCandidate: ms,
      cpuMsPerCandidate: cpuMs,
      counters,
      sharing: score.sharing,
    }),
  );
  if (process.env.GS_SCORES) console.log(out.join('\n'));
  score.dispose();
}
if (gpu.profiler) console.log(gpu.profiler.table());
gpu.destroy();
