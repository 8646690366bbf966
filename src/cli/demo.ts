import { infoCommand } from './info.js';
import { pruneCommand } from './prune.js';
import { selfcheckCommand } from './selfcheck.js';

/**
 * The README's main job: check the device, then prune the bundled ResNet-56 with SGLP on Fashion-MNIST.
 * The full default protocol scores ~1,000 candidates with two batches each, about 1.5 h on two CPU cores,
 * so the demo reduces it (stated here and in the report's protocol.preset) to stay within ~5 minutes.
 */
export const DEMO_PROTOCOL = {
  data: 'fashion-mnist',
  remove: 14,
  samples: 500,
  batch: 250,
  gradnormBatches: 1,
  gradnormBatchSize: 32,
  maxExhaustive: 100,
  evalLimit: 1000,
  // SGLP's selection is fine-tuning free; a short fine-tune (SGLP.md §5 settings) shows what it recovers.
  finetuneEpochs: 1,
  finetuneSamples: 4096,
} as const;

export async function demoCommand(opts: { model: string; out: string; signal?: AbortSignal }): Promise<void> {
  await infoCommand({});
  await selfcheckCommand({});
  const p = DEMO_PROTOCOL;
  process.stdout.write(
    `\nSGLP demo: remove ${p.remove} of 28 units from ${opts.model} (reduced protocol: ${p.samples} ` +
      `calibration samples, GradNorm on 1 batch of ${p.gradnormBatchSize}, greedy search above ` +
      `${p.maxExhaustive} candidates, accuracy on the first ${p.evalLimit} test images; then ${p.finetuneEpochs} ` +
      `fine-tuning epoch on the first ${p.finetuneSamples} training images)\n`,
  );
  await pruneCommand(opts.model, { ...p, select: 'min', out: opts.out }, { signal: opts.signal });
}
