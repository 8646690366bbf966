// docs/method.md's default protocol for image classifiers.

import type { Select } from '../../candidates.js';
import type { Estimator } from '../../cka.js';
import type { Score } from '../../report/schema.js';

/** The default protocol for images (docs/method.md). */
export const SGLP_DEFAULTS = {
  samples: 2500,
  batch: 500,
  gradnormBatches: 2,
  gradnormBatchSize: 64,
  evalBatch: 128,
  estimator: 'biased' as Estimator,
  select: 'min' as Select,
  /** The selection benchmark's winner for image classifiers (bench/RESULTS.md, "Selection benchmark"). */
  score: 'similarity' as Score,
  /** Batch-norm recalibration after pruning: the first N train images, in batches of recalibrateBatch. */
  recalibrate: 2048,
  recalibrateBatch: 128,
} as const;
