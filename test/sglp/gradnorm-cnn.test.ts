// Whole-network GradNorm of the CNNs (SGLP.md §4) against float64: the global L2 norm of every weight's and
// bias's gradient of the mean cross-entropy, BN on batch statistics, averaged over batches. The reference is
// test/nn/grad-reference.ts's reverse-mode f64 gradient of the test-side PyTorch model (torch-models.ts),
// itself checked here against central differences of the f64 forward (every tensor along a random
// direction, and all parameters at once), like the LLM GradNorm test does by finite differences alone
// (a ResNet's ~270,000 parameters are too many for one difference each). Candidates are pruned test-side:
// a removed block's successors in its stage are renumbered; a removed VGG conv is dropped and the next conv,
// whose input width changed, takes the seeded fresh weights of src/sglp/reinit.ts (PyTorch's default init).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReinitUnit } from '../../src/arch/prune.js';
import type { ModelDescription } from '../../src/arch/types.js';
import type { Gpu } from '../../src/gpu/device.js';
import { ParamStore } from '../../src/nn/params.js';
import { CifarResnet } from '../../src/nn/resnet.js';
import { Vgg } from '../../src/nn/vgg.js';
import {
  disposeGradNormBatches,
  type GradNormBatch,
  networkGradNorm,
  segmentScorer,
  uploadGradNormBatches,
} from '../../src/sglp/importance.js';
import { reinitArrays } from '../../src/sglp/reinit.js';
import { useGpu } from '../helpers/gpu.js';
import { values } from '../helpers/reference.js';
import { tinyDescription } from '../helpers/tiny-model.js';
import { TINY_VGG_CONFIG, tinyVggDescription } from '../helpers/tiny-vgg.js';
import { cifarResnet, cifarVgg, type TorchNet, torchTensors } from '../helpers/torch-models.js';
import { labelsFor } from '../nn/classifier-helpers.js';
import { globalNorm, gradRef } from '../nn/grad-reference.js';
import { type Params64, randomParams, resnetLossRef, to64, torchNetOf } from '../nn/resnet-reference.js';
import { vggLossRef } from '../nn/vgg-reference.js';

const getGpu = useGpu();

// f32 forward and backward on the GPU against f64: the LLM GradNorm test's tolerance.
const REL = 1e-3;

function lossRef(net: TorchNet, p: Params64, x: ArrayLike<number>, y: ArrayLike<number>): number {
  return net.family === 'resnet' ? resnetLossRef(net, p, x, y, true) : vggLossRef(net, p, x, y, true);
}

/** Two batches of 4 seeded inputs and labels for `net`. */
function batchesFor(net: TorchNet): { x: Float32Array; y: Int32Array; size: number }[] {
  const size = net.input.reduce((a, d) => a * d, 1);
  return [0, 1].map((s) => ({ x: values(4 * size, 40 + s), y: labelsFor(4, net.classes, 50 + s), size: 4 }));
}

/** Mean over batches of the f64 GradNorm. */
function gradNormRef(net: TorchNet, p: Params64, batches: { x: Float32Array; y: Int32Array }[]): number {
  return batches.reduce((s, b) => s + globalNorm(gradRef(net, p, b.x, b.y).grads), 0) / batches.length;
}

describe('the f64 reverse-mode reference', () => {
  const cases: [string, TorchNet][] = [
    [
      'CIFAR ResNet, option A',
      cifarResnet({
        depth: 20,
        blocks: [1, 1, 1],
        shortcut: 'A',
        inChannels: 1,
        classes: 10,
        input: [1, 6, 6],
      }),
    ],
    [
      'CIFAR ResNet, option B',
      cifarResnet({
        depth: 20,
        blocks: [1, 1, 1],
        shortcut: 'B',
        inChannels: 2,
        classes: 5,
        input: [2, 6, 6],
      }),
    ],
    ['tiny VGG', torchNetOf(tinyVggDescription())],
  ];
  it.each(cases)('agrees with central differences of the f64 loss: %s', (_, net) => {
    const p = to64(randomParams(net, 4));
    const [b] = batchesFor(net);
    const { loss, grads } = gradRef(net, p, b.x, b.y);
    expect(Math.abs(loss - lossRef(net, p, b.x, b.y))).toBeLessThan(1e-12);
    // Every weight and bias has a gradient; running statistics have none.
    expect([...grads.keys()].sort()).toEqual(
      torchTensors(net)
        .filter((t) => t.kind === 'weight' || t.kind === 'bias')
        .map((t) => t.key)
        .sort(),
    );
    // A small step: with 1e-5 a perturbation moves ~10^4 pre-activations by ~1e-4 and some cross a ReLU
    // kink, which showed as 1e-3 relative errors; at 1e-7 the seeded directions cross none.
    const eps = 1e-7;
    /** (L(p + eps·dir) − L(p − eps·dir)) / 2eps against ⟨g, dir⟩, dir random over `keys`. */
    const check = (keys: string[], seed: number) => {
      const dir = new Map(keys.map((k, i) => [k, values(p[k].length, seed * 100 + i)]));
      const shifted = (sign: number) => {
        const q = { ...p };
        for (const [k, d] of dir) q[k] = p[k].map((v, i) => v + sign * eps * d[i]);
        return lossRef(net, q, b.x, b.y);
      };
      const fd = (shifted(1) - shifted(-1)) / (2 * eps);
      let dot = 0;
      let gg = 0;
      let dd = 0;
      for (const [k, d] of dir) {
        const g = grads.get(k) as Float64Array;
        for (let i = 0; i < d.length; i++) {
          dot += g[i] * d[i];
          gg += g[i] * g[i];
          dd += d[i] * d[i];
        }
      }
      // Truncation (~eps²) is nil; rounding is ~1e-16 · loss / eps ~ 1e-9 (a conv bias before a BN has a
      // zero gradient, so that absolute term is all it gets); 1e-5 of ‖g‖·‖dir‖ is 100x below REL.
      expect(Math.abs(fd - dot), `${keys.join(', ')}: fd ${fd}, ⟨g, dir⟩ ${dot}`).toBeLessThanOrEqual(
        1e-5 * Math.sqrt(gg * dd) + 1e-8,
      );
    };
    [...grads.keys()].forEach((k, i) => {
      check([k], i + 1);
    });
    for (const seed of [901, 902]) check([...grads.keys()], seed);
  });
});

describe('CNN GradNorm against the f64 reference', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await getGpu();
  });

  describe('tiny ResNet-20 (option A, 1x8x8, 10 units)', () => {
    let desc: ModelDescription;
    let net: TorchNet;
    let arrays: Record<string, Float32Array>;
    let params: ParamStore;
    let batches: GradNormBatch[];
    const data = batchesFor(torchNetOf(tinyDescription()));
    beforeAll(() => {
      desc = tinyDescription();
      net = torchNetOf(desc);
      arrays = randomParams(net, 4);
      params = ParamStore.fromArrays(gpu, desc, arrays);
      batches = uploadGradNormBatches(gpu, desc, data);
    });
    afterAll(() => {
      disposeGradNormBatches(batches);
      params.dispose();
    });

    it('the whole network', async () => {
      const got = await networkGradNorm(gpu, new CifarResnet(gpu, desc, params), batches);
      const want = gradNormRef(net, to64(arrays), data);
      expect(Math.abs(got - want), `got ${got}, want ${want}`).toBeLessThanOrEqual(REL * want);
    });

    /** The tiny net with `removed` blocks (stage, index) gone and the later blocks of a stage renumbered. */
    function prunedResnet(removed: [number, number][]) {
      const blocks = [3, 3, 3].map((n, s) => n - removed.filter(([rs]) => rs === s).length);
      const pnet = cifarResnet({
        depth: 20,
        blocks,
        shortcut: 'A',
        inChannels: 1,
        classes: 10,
        input: [1, 8, 8],
      });
      const p: Record<string, Float32Array> = {};
      for (const [k, v] of Object.entries(arrays)) {
        const m = /^layer(\d)\.(\d)\.(.*)$/.exec(k);
        if (!m) {
          p[k] = v;
          continue;
        }
        const [s, b] = [Number(m[1]) - 1, Number(m[2])];
        if (removed.some(([rs, rb]) => rs === s && rb === b)) continue;
        const before = removed.filter(([rs, rb]) => rs === s && rb < b).length;
        p[`layer${s + 1}.${b - before}.${m[3]}`] = v;
      }
      return { pnet, p: to64(p) };
    }

    it('candidates of segment [1, 4) (layer1), shared and plain paths', async () => {
      // Units 1..3 are layer1.0..2: keeping [1, 3] removes layer1.1, keeping [2, 3] removes layer1.0.
      const a = prunedResnet([[0, 1]]);
      const wantA = gradNormRef(a.pnet, a.p, data);
      const b = prunedResnet([[0, 0]]);
      const wantB = gradNormRef(b.pnet, b.p, data);
      // The two candidates differ by several tolerances (0.8% measured), so a swapped candidate fails.
      expect(Math.abs(wantA - wantB)).toBeGreaterThan(3 * REL * wantA);
      for (const share of [true, false]) {
        const score = segmentScorer(gpu, desc, params, [1, 4], batches, { share });
        const gotA = await score([1, 3]);
        const gotB = await score([2, 3]);
        score.dispose();
        expect(Math.abs(gotA - wantA), `share ${share}: got ${gotA}, want ${wantA}`).toBeLessThanOrEqual(
          REL * wantA,
        );
        expect(Math.abs(gotB - wantB), `share ${share}: got ${gotB}, want ${wantB}`).toBeLessThanOrEqual(
          REL * wantB,
        );
      }
    });
  });

  describe('tiny VGG (5 convs, 1x32x32) with a re-initialised conv', () => {
    it('removing conv 1 re-initialises conv 2 (input 6 → 4 channels): the candidate scores as f64', async () => {
      const desc = tinyVggDescription();
      const net = torchNetOf(desc);
      const arrays = randomParams(net, 6);
      const params = ParamStore.fromArrays(gpu, desc, arrays);
      const data = batchesFor(net);
      const batches = uploadGradNormBatches(gpu, desc, data);
      try {
        // Original features: conv 0 (4), pool 3, conv 4 (6), pool 7, conv 8 (8), pool 11, conv 12 (10),
        // pool 15, conv 16 (12), pool 19. Without conv 4: conv 0, pool 3, pool 4, conv 5, pool 8, conv 9,
        // pool 12, conv 13, pool 16; the conv at 5 (was 8) takes 4 channels where it took 6.
        const layers = TINY_VGG_CONFIG.layers.filter((_, i) => i !== 2) as (number | 'M')[];
        expect(layers).toEqual([4, 'M', 'M', 8, 'M', 10, 'M', 12, 'M']);
        const pnet = cifarVgg({ depth: 11, layers, inChannels: 1, classes: 10, input: [1, 32, 32] });
        const renamed: Record<string, string> = {
          'features.0': 'features.0',
          'features.1': 'features.1',
          'features.9': 'features.6',
          'features.12': 'features.9',
          'features.13': 'features.10',
          'features.16': 'features.13',
          'features.17': 'features.14',
          'classifier.0': 'classifier.0',
        };
        const p: Record<string, Float32Array> = {};
        for (const [k, v] of Object.entries(arrays)) {
          const dot = k.lastIndexOf('.');
          const to = renamed[k.slice(0, dot)];
          if (to) p[`${to}${k.slice(dot)}`] = v;
        }
        // The fresh conv: PyTorch's default init drawn by src/sglp/reinit.ts from the ORIGINAL name.
        const fresh = reinitArrays(
          {
            oldName: 'features.8',
            params: [
              { key: 'features.5.weight', shape: [8, 4, 3, 3], kind: 'weight' },
              { key: 'features.5.bias', shape: [8], kind: 'bias' },
            ],
          } as unknown as ReinitUnit,
          0,
        );
        for (const [k, v] of fresh) p[k] = v;
        expect(Object.keys(p).sort()).toEqual(
          torchTensors(pnet)
            .map((t) => t.key)
            .sort(),
        );
        const want = gradNormRef(pnet, to64(p), data);
        const score = segmentScorer(gpu, desc, params, [0, 5], batches);
        const got = await score([0, 2, 3, 4]);
        score.dispose();
        expect(Math.abs(got - want), `got ${got}, want ${want}`).toBeLessThanOrEqual(REL * want);
        // Whole network too.
        const full = gradNormRef(net, to64(arrays), data);
        const gotFull = await networkGradNorm(gpu, new Vgg(gpu, desc, params), batches);
        expect(Math.abs(gotFull - full), `got ${gotFull}, want ${full}`).toBeLessThanOrEqual(REL * full);
        expect(Math.abs(full - want)).toBeGreaterThan(10 * REL * want);
      } finally {
        disposeGradNormBatches(batches);
        params.dispose();
      }
    });
  });
});
