// SGLP end to end on a loaded image classifier (ResNets, CIFAR VGG-BN): the one pipeline (../../pipeline.ts)
// over the image family (family.ts). Pure library code (no fs).

import type { ClassifierMetrics } from '../../../eval/classify.js';
import type { PipelineOptions, PipelineResult } from '../../pipeline.js';
import { runPipeline } from '../../pipeline.js';
import type { ParamView } from '../../pruned-view.js';
import { ImageFamily, type ImageInputs, type ImageOptions } from './family.js';

export { SGLP_DEFAULTS } from './defaults.js';

export type PruneOptions = PipelineOptions<ClassifierMetrics> & ImageOptions;
export type PruneInputs = ImageInputs;

export interface PruneResult extends PipelineResult {
  /**
   * The pruned model's tensors, by their new names, over the loaded tensors (read-only, no copies), plus
   * the fresh weights of re-initialised convs (VGG) and recalibrated BN statistics, which view.dispose() frees.
   */
  readonly view: ParamView;
}

/** Runs SGLP on a loaded image classifier and returns the report, the pruned architecture and its tensors. */
export async function pruneSglp(inputs: PruneInputs, options: PruneOptions): Promise<PruneResult> {
  const r = await runPipeline(new ImageFamily(inputs, options), options);
  return r as PruneResult;
}
