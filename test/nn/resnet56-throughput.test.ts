// Opt-in measurement (SGLP_BENCH=1), no timing is asserted: ResNet-56 (blocks [9,9,9], 1x28x28, batch 64,
// random weights) eval forward (conv + BN, and BN folded by freezeForEval) and train forward+backward images/s on this adapter. Prints one JSON line.
//   SGLP_BENCH=1 npx vitest run test/nn/resnet56-throughput.test.ts   (SGLP_PROFILE=1: kernel table too)

import { describe, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { ParamStore } from '../../src/nn/params.js';
import { CifarResnet } from '../../src/nn/resnet.js';
import { softmaxCrossEntropy, uploadLabels } from '../../src/ops/index.js';
import { config } from '../arch/helpers.js';
import { useGpu } from '../helpers/gpu.js';
import { values } from '../helpers/reference.js';

const getGpu = useGpu();
const BATCH = Number(process.env.SGLP_BENCH_BATCH ?? 64);
const REPS = Number(process.env.SGLP_BENCH_REPS ?? 3);

describe.skipIf(!process.env.SGLP_BENCH)('ResNet-56 throughput', () => {
  it('eval forward and train forward+backward, images/s', async () => {
    const gpu = await getGpu();
    const desc = describeModel(
      config({ architecture: 'cifar-resnet', depth: 56, shortcut: 'A' }, [1, 28, 28]),
    );
    let s = 12345;
    const params = ParamStore.init(gpu, desc, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 2 ** 32;
    });
    const model = new CifarResnet(gpu, desc, params);
    const x = gpu.tensor(values(BATCH * 784, 1), [BATCH, 1, 28, 28]);
    const labels = uploadLabels(
      gpu,
      Array.from({ length: BATCH }, (_, i) => i % 10),
      10,
    );
    const evalPass = () =>
      gpu.scope(async () => {
        const { logits } = await model.forward(x, { mode: 'eval' });
        await gpu.readF32(logits);
      });
    const trainPass = () =>
      gpu.scope(async () => {
        const { logits, saved } = await model.forward(x, { mode: 'train', updateRunningStats: false });
        const ce = softmaxCrossEntropy(gpu, logits, labels);
        const grads = saved && ce.dlogits ? model.backward(saved, ce.dlogits) : new Map();
        await gpu.readF32(ce.loss);
        await gpu.sync();
        for (const g of grads.values()) g.dispose();
      });
    const time = async (fn: () => Promise<void>) => {
      await fn(); // warm-up: pipeline compilation
      const t0 = performance.now();
      gpu.profiler?.reset();
      for (let i = 0; i < REPS; i++) await fn();
      const ips = (REPS * BATCH) / ((performance.now() - t0) / 1000);
      // SGLP_PROFILE=1: per-kernel GPU times of the timed passes.
      if (gpu.profiler) console.log(gpu.profiler.table());
      return ips;
    };
    const evalIps = await time(evalPass);
    await model.freezeForEval();
    const foldedIps = await time(evalPass);
    const trainIps = await time(trainPass);
    console.log(
      JSON.stringify({
        model: desc.name,
        input: [1, 28, 28],
        batch: BATCH,
        reps: REPS,
        adapter: gpu.adapter.description,
        evalForwardImagesPerSec: Number(evalIps.toFixed(2)),
        evalForwardFoldedBnImagesPerSec: Number(foldedIps.toFixed(2)),
        trainForwardBackwardImagesPerSec: Number(trainIps.toFixed(2)),
      }),
    );
    x.dispose();
    labels.dispose();
    params.dispose();
  }, 600_000);
});
