// Stages 1–2 of the pipeline (docs/method.md §1–2): calibration through the model's family, the averaged CKA
// and the segmentation of its row sums; and the cache that lets several prune runs on one model
// (`sglp compare`, the selection benchmark) share one calibration.

import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { ParamStore } from '../nn/params.js';
import { CosineScores } from './baselines.js';
import type { CalibrationResult } from './calibrate.js';
import type { PruneProgress, PruneSettings } from './search-stage.js';
import { type Segmentation, segmentCka } from './segment.js';

/** What the pipeline's run shares with these stages. */
export interface StageRun {
  readonly progress: (p: PruneProgress) => void;
  readonly passes: { forward: number; backward: number };
}

/**
 * Calibration (CKA and the units' block influence) of one model, kept between prune runs that read the same
 * calibration samples (`sglp compare`, the selection benchmark): every method and score sees the same
 * representations, so they are computed once. Pass one instance per model; a run with other calibration
 * settings is an error rather than a silent recomputation.
 */
export class CalibrationCache {
  entry:
    | { readonly key: string; readonly calib: CalibrationResult; readonly cosine: CosineScores | undefined }
    | undefined;
}

/**
 * Stages 1–2: calibration → averaged CKA (every method: the report carries the matrix), with the scored
 * baselines' observer reading the same representations in the same pass; then the segmentation.
 */
export async function calibrateAndSegment<C extends CalibrationResult>(
  s: PruneSettings,
  /** `params`: the loaded tensors (absent when an LM is streamed from its checkpoint). */
  model: { readonly gpu: Gpu; readonly desc: ModelDescription; readonly params?: ParamStore },
  segments: number | undefined,
  calibrate: (observers: CosineScores[]) => Promise<C>,
  run: StageRun,
  cache?: CalibrationCache,
): Promise<{ calib: C; cosine: CosineScores | undefined; seg: Segmentation; segmentMs: number }> {
  const { gpu, desc, params } = model;
  const needsCosine =
    s.method === 'block-influence' || s.method === 'angular' || (s.sglp && s.score === 'similarity');
  const key = `${desc.name} ${s.samples}/${s.batch} ${s.estimator}`;
  const hit = cache?.entry;
  if (hit && hit.key !== key) {
    throw new Error(
      `calibration cache: holds "${hit.key}", this run reads "${key}"; use one cache per setting`,
    );
  }
  let calib: C;
  let cosine: CosineScores | undefined;
  if (hit && (hit.cosine || !needsCosine)) {
    calib = hit.calib as C;
    cosine = hit.cosine;
  } else {
    // A cache fills the block-influence scores too wherever they are defined, for the runs after this one.
    cosine =
      needsCosine || (cache && CosineScores.defined(desc)) ? new CosineScores(gpu, desc, params) : undefined;
    try {
      calib = await calibrate(cosine ? [cosine] : []);
    } finally {
      cosine?.dispose();
    }
    run.passes.forward += calib.forwardPasses;
    if (cache) cache.entry = { key, calib, cosine };
  }
  const ts = performance.now();
  const names = desc.units.map((u) => u.name);
  const seg = segmentCka(calib.cka.matrix, { names, segments });
  const segmentMs = performance.now() - ts;
  run.progress({ stage: 'segment', done: 1, total: 1 });
  return { calib, cosine, seg, segmentMs };
}
