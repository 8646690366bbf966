// BatchNorm's eps where it matters. With weights of random scale every channel's variance is ~1 and an eps
// of 1e-5 vs 1e-4 (or 1e-3) changes outputs by less than the f32 tolerances, so a wrong eps passed the
// suite (issue 17). Trained networks have channels of small variance; here every third output channel of
// every conv has its weights scaled by 1e-2 (variance ~5e-5, the same order as eps), and the running
// statistics are those of a calibration batch, as a trained network's are. Every model runs in eval mode
// (conv + BN, and BN folded into the convs) and in train mode against the f64 reference of the test-side
// PyTorch model (test/helpers/torch-models.ts: eps 1e-5, never read from src/). Each case first shows that a
// reference with 10x the eps misses the tolerance by at least 10x, so these tests can fail.

import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import type { ModelDescription } from '../../src/arch/types.js';
import type { Gpu } from '../../src/gpu/device.js';
import type { ClassifierModel } from '../../src/nn/model.js';
import { ParamStore } from '../../src/nn/params.js';
import { CifarResnet } from '../../src/nn/resnet.js';
import { Vgg } from '../../src/nn/vgg.js';
import { config } from '../arch/helpers.js';
import { useGpu } from '../helpers/gpu.js';
import { worstVsMax } from '../helpers/grad-check.js';
import { values } from '../helpers/reference.js';
import {
  TORCH_BN_EPS,
  type TorchNet,
  type TorchResnet,
  type TorchVgg,
  torchConvBns,
  withBnEps,
} from '../helpers/torch-models.js';
import { expectEvalMatches } from './classifier-helpers.js';
import {
  type Params64,
  type RefForward,
  randomParams,
  resnetRef,
  to64,
  torchNetOf,
} from './resnet-reference.js';
import { vggRef } from './vgg-reference.js';

const getGpu = useGpu();

/** Scale of the weights (and bias) of every third output channel: variance ~1e-4 of the others'. */
const SMALL = 1e-2;

function reference(net: TorchNet, p: Params64, x: ArrayLike<number>, n: number, train: boolean): RefForward {
  return net.family === 'resnet' ? resnetRef(net, p, x, n, train) : vggRef(net, p, x, n, train);
}

/** Seeded weights with small-variance channels, running statistics from a calibration batch of 8. */
function epsSensitiveParams(net: TorchNet, seed: number): Record<string, Float32Array> {
  const arrays = randomParams(net, seed);
  for (const { conv } of torchConvBns(net)) {
    const w = arrays[`${conv.name}.weight`];
    const per = w.length / conv.cout;
    for (let c = 0; c < conv.cout; c += 3) {
      for (let i = c * per; i < (c + 1) * per; i++) w[i] *= SMALL;
      if (conv.bias) arrays[`${conv.name}.bias`][c] *= SMALL;
    }
  }
  const size = net.input.reduce((a, d) => a * d, 1);
  // Train mode does not read the running statistics, so one pass gives every BN its batch statistics.
  const calib = reference(net, to64(arrays), values(8 * size, 77), 8, true);
  for (const [bn, s] of calib.batchStats) {
    arrays[`${bn}.running_mean`] = Float32Array.from(s.mean);
    arrays[`${bn}.running_var`] = Float32Array.from(s.variance);
  }
  return arrays;
}

interface Case {
  name: string;
  desc: () => ModelDescription;
  /** f32 GPU vs f64 CPU relative to the largest |value|, as the model's own forward tests allow. */
  rel: number;
}

const CASES: Case[] = [
  {
    name: 'CIFAR ResNet, shortcut A, blocks [2,1,1], 1x8x8',
    desc: () =>
      describeModel(
        config({ architecture: 'cifar-resnet', depth: 20, shortcut: 'A', blocks: [2, 1, 1] }, [1, 8, 8]),
      ),
    rel: 2e-4,
  },
  {
    name: 'CIFAR ResNet, shortcut B, blocks [1,1,1], 2x9x9',
    desc: () =>
      describeModel(
        config({ architecture: 'cifar-resnet', depth: 20, shortcut: 'B', blocks: [1, 1, 1] }, [2, 9, 9]),
      ),
    rel: 2e-4,
  },
  {
    name: 'torchvision ResNet-18, blocks [1,1,1,1], 3x32x32',
    desc: () =>
      describeModel(config({ architecture: 'resnet', depth: 18, blocks: [1, 1, 1, 1] }, [3, 32, 32])),
    rel: 5e-4,
  },
  {
    name: 'narrow VGG-11-BN, 2x32x32',
    desc: () =>
      describeModel(
        config(
          { architecture: 'vgg', depth: 11, layers: [4, 'M', 6, 'M', 8, 8, 'M', 8, 6, 'M', 8, 8, 'M'] },
          [2, 32, 32],
        ),
      ),
    rel: 2e-4,
  },
];

function build(gpu: Gpu, desc: ModelDescription, arrays: Record<string, Float32Array>) {
  const params = ParamStore.fromArrays(gpu, desc, arrays);
  const model: ClassifierModel =
    desc.net.family === 'vgg' ? new Vgg(gpu, desc, params) : new CifarResnet(gpu, desc, params);
  return { params, model };
}

describe('BN eps on small-variance channels (f64 reference of the PyTorch definition)', () => {
  for (const c of CASES) {
    it(`a 10x eps misses the tolerance by at least 10x, eval and train: ${c.name}`, () => {
      const net = torchNetOf(c.desc());
      const p = to64(epsSensitiveParams(net, 3));
      const size = net.input.reduce((a, d) => a * d, 1);
      const x = values(3 * size, 11);
      const wrong = withBnEps(net as TorchResnet | TorchVgg, 10 * TORCH_BN_EPS);
      for (const train of [false, true]) {
        const good = reference(net, p, x, 3, train).logits;
        const bad = reference(wrong, p, x, 3, train).logits;
        // The good logits are O(1): the small channels were normalised back, not left near zero.
        expect(Math.max(...good.map(Math.abs))).toBeGreaterThan(0.1);
        // Measured: 1,300x to 3,800x the tolerance; the issue asks for at least 10x, 100x leaves room.
        expect(worstVsMax(bad, good, c.rel), `train ${train}`).toBeGreaterThanOrEqual(100);
      }
    });

    for (const folded of [false, true]) {
      const how = folded ? 'BN folded (freezeForEval)' : 'conv + BN';
      it(`eval forward matches, ${how}: ${c.name}`, async () => {
        const gpu = await getGpu();
        const desc = c.desc();
        const net = torchNetOf(desc);
        const arrays = epsSensitiveParams(net, 3);
        const { params, model } = build(gpu, desc, arrays);
        const p = to64(arrays);
        await expectEvalMatches(gpu, model, 3, folded, (x, m) => reference(net, p, x, m, false), c.rel);
        params.dispose();
      });
    }

    it(`train-mode forward (batch statistics) matches: ${c.name}`, async () => {
      const gpu = await getGpu();
      const desc = c.desc();
      const net = torchNetOf(desc);
      const arrays = epsSensitiveParams(net, 3);
      const { params, model } = build(gpu, desc, arrays);
      const n = 4;
      const xData = values(n * net.input.reduce((a, d) => a * d, 1), 13);
      const x = gpu.tensor(xData, [n, ...net.input]);
      const { logits, saved } = await model.forward(x, { mode: 'train', updateRunningStats: false });
      const want = reference(net, to64(arrays), xData, n, true).logits;
      expect(worstVsMax(await gpu.readF32(logits), want, c.rel)).toBeLessThanOrEqual(1);
      saved?.dispose();
      logits.dispose();
      x.dispose();
      params.dispose();
    });
  }
});
