import { SGLP_DEFAULTS } from '../sglp/families/image/prune.js';
import { infoCommand } from './info.js';
import { pruneCommand } from './prune.js';
import { selfcheckCommand } from './selfcheck.js';

/**
 * The README's main job: check the device, then prune the bundled ResNet-56 on Fashion-MNIST with the
 * default rule and repair (docs/method.md: CKA on 2,500 calibration images, segmentation, the similarity
 * score inside the segments, batch-norm recalibration on 2,048 images), then fine-tune a copy for one short
 * epoch to show what training recovers. Only the evaluations are reduced, to the first 1,000 test images,
 * which keeps the demo within a few minutes on two CPU cores (the report's protocol.preset says so).
 */
export const DEMO_PROTOCOL = {
  data: 'fashion-mnist',
  remove: 14,
  evalLimit: 1000,
  finetuneEpochs: 1,
  finetuneSamples: 4096,
} as const;

export async function demoCommand(opts: { model: string; out: string; signal?: AbortSignal }): Promise<void> {
  await infoCommand({});
  await selfcheckCommand({});
  const p = DEMO_PROTOCOL;
  process.stdout.write(
    `\nSGLP demo: remove ${p.remove} of 28 units from ${opts.model} with the default protocol ` +
      `(${SGLP_DEFAULTS.score} score inside the segments, batch-norm recalibration), accuracy on the first ` +
      `${p.evalLimit} test images as pruned, after recalibration, and after ${p.finetuneEpochs} ` +
      `fine-tuning epoch on the first ${p.finetuneSamples} training images\n`,
  );
  await pruneCommand(opts.model, { ...p, out: opts.out }, { signal: opts.signal });
}
