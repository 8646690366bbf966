// Fresh weights for the convs a VGG pruning re-initialises (docs/method.md §0: a conv whose input width changed).
// PyTorch's default Conv2d init, kaiming_uniform(a=√5): weight and bias both U(−b, b), b = 1/√fan_in,
// fan_in = in_channels·k·k, drawn on the CPU with the project PRNG (mulberry32, io/prng.ts): the weight's
// values in state-dict (row-major) order, then the bias's, from one stream of `seed`. The stream is derived
// from the conv's ORIGINAL name (not its renumbered one, not the candidate), so a candidate scored twice, in
// any order, sees the same weights, and a conv the export re-initialises at the width it was scored with
// holds exactly the scored weights. Only the shape, i.e. the new input width, changes what is drawn (the
// removals of two neighbouring segments together can give a conv a width no single candidate gave it).

import type { ReinitUnit } from '../arch/prune.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import { OptionError } from '../io/option-error.js';
import { Rng } from '../io/prng.js';

/** The re-init PRNG stream (so that `--seed` S here never repeats another use of seed S). */
export const REINIT_STREAM = 0x1e17;

/** 32-bit FNV-1a of a name's UTF-16 code units: the name's part of the stream. */
function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

/** The fresh tensors of one re-initialised conv, by their keys in the pruned model. */
export function reinitArrays(r: ReinitUnit, seed: number): Map<string, Float32Array> {
  if (!Number.isSafeInteger(seed))
    throw new OptionError('seed', (n) => `${n('seed')} must be an integer, got ${seed}`);
  const weight = r.params.find((p) => p.kind === 'weight');
  if (weight?.shape.length !== 4) {
    throw new Error(`re-initialising ${r.name}: no 4-d conv weight among ${r.params.map((p) => p.key)}`);
  }
  const fanIn = weight.shape[1] * weight.shape[2] * weight.shape[3];
  const bound = 1 / Math.sqrt(fanIn);
  const rng = Rng.derive(seed, REINIT_STREAM, nameHash(r.oldName));
  const out = new Map<string, Float32Array>();
  // Weight first, then bias, whatever order `params` lists them in.
  for (const p of [weight, ...r.params.filter((q) => q !== weight)]) {
    const n = p.shape.reduce((a, d) => a * d, 1);
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (2 * rng.float() - 1) * bound;
    out.set(p.key, a);
  }
  return out;
}

/** Fresh arrays already drawn, by seed, original name and shapes (one search's worth). */
export type ReinitCache = Map<string, Map<string, Float32Array>>;

/**
 * Every re-initialised conv's fresh tensors on the device, by their keys in the pruned model (kept: the
 * caller owns them; pruned-view.ts's prunedView hands them to a ParamView that frees them).
 */
export function uploadReinit(
  gpu: Gpu,
  reinit: readonly ReinitUnit[],
  seed: number,
  cache?: ReinitCache,
): Map<string, Tensor> {
  const fresh = new Map<string, Tensor>();
  try {
    for (const r of reinit) {
      const shapes = new Map(r.params.map((p) => [p.key, p.shape]));
      // The draws depend on the seed, the original name and the shapes only: a search redraws them once.
      const id = `${seed}|${r.oldName}|${r.params.map((p) => `${p.key}:${p.shape.join('x')}`).join(',')}`;
      let arrays = cache?.get(id);
      if (!arrays) {
        arrays = reinitArrays(r, seed);
        cache?.set(id, arrays);
      }
      for (const [key, data] of arrays) {
        fresh.set(key, gpu.keep(gpu.tensor(data, shapes.get(key) as readonly number[])));
      }
    }
  } catch (e) {
    for (const t of fresh.values()) t.dispose();
    throw e;
  }
  return fresh;
}
