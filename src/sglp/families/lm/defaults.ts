// docs/method.md's default protocol for text (counts are windows of seqLen tokens).

import type { Select } from '../../candidates.js';
import type { Estimator } from '../../cka.js';
import type { Score } from '../../report/schema.js';

export const SGLP_TEXT_DEFAULTS = {
  seqLen: 128,
  samples: 16,
  batch: 4,
  gradnormBatches: 2,
  gradnormBatchSize: 4,
  evalBatch: 4,
  estimator: 'biased' as Estimator,
  select: 'min' as Select,
  /** The selection benchmark's winner for language models (bench/RESULTS.md, "Selection benchmark"). */
  score: 'loss' as Score,
} as const;
