// pruneSglp with fine-tuning (SGLP.md §5) on the tiny random-weight cifar-resnet: the report validates with
// protocol.finetune, metrics.afterFinetune and timings.finetuneMs, afterFinetune is exactly the fine-tuned
// store's metrics, the loaded tensors stay bit-identical, progress reports the stage, report.html shows it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelDescription } from '../../src/arch/types.js';
import { evaluateClassifier } from '../../src/eval/classify.js';
import type { Gpu } from '../../src/gpu/device.js';
import { imageBatches } from '../../src/io/batches.js';
import type { ImageDataset } from '../../src/io/dataset.js';
import type { ParamStore } from '../../src/nn/params.js';
import { CifarResnet } from '../../src/nn/resnet.js';
import { renderReportHtml } from '../../src/report/html.js';
import { type PruneOptions, pruneSglp } from '../../src/sglp/families/image/prune.js';
import type { PruneProgress } from '../../src/sglp/pipeline.js';
import { parseReport } from '../../src/sglp/report/schema.js';
import { useGpu } from '../helpers/gpu.js';
import { tinyConfig, tinyDataset, tinyDescription, tinyParams } from '../helpers/tiny-model.js';

const getGpu = useGpu();
const normalize = tinyConfig().normalize;

let gpu: Gpu;
let desc: ModelDescription;
let params: ParamStore;
let train: ImageDataset;
let test: ImageDataset;

const options = (extra: Partial<PruneOptions> = {}): PruneOptions => ({
  target: { remove: 3 },
  samples: 40,
  batch: 20,
  gradnormBatches: 1,
  gradnormBatchSize: 8,
  dataSpec: 'tiny',
  input: 'in',
  output: 'out',
  ...extra,
});

beforeAll(async () => {
  gpu = await getGpu();
  desc = tinyDescription();
  params = tinyParams(gpu, desc);
  train = tinyDataset('tiny train', 64, 1);
  test = tinyDataset('tiny test', 30, 2);
});

afterAll(() => {
  params?.dispose();
});

describe('pruneSglp --finetune-epochs', () => {
  it('fine-tunes a copy, evaluates it again and reports it; the loaded model is untouched', async () => {
    const snapshot = await params.toArrays();
    const events: PruneProgress[] = [];
    const result = await pruneSglp(
      { gpu, desc, params, normalize, train, test },
      options({ finetune: { epochs: 2, batchSize: 16, lr: 0.05 }, onProgress: (p) => events.push(p) }),
    );
    const tuned = result.finetuned;
    try {
      expect(tuned).toBeDefined();
      const r = parseReport(JSON.parse(JSON.stringify(result.report)));
      expect(r.protocol.finetune).toEqual({
        epochs: 2,
        optimizer: 'sgd',
        lr: 0.05,
        schedule: 'cosine',
        momentum: 0.9,
        weightDecay: 5e-3,
        batchSize: 16,
        augment: true,
        seed: 0,
        samples: null,
      });
      expect(r.timings.finetuneMs).toBeGreaterThan(0);
      const ft = events.filter((e) => e.stage === 'finetune');
      expect(ft.at(-1)).toMatchObject({ done: 8, total: 8 }); // 2 epochs x 4 batches of 16
      expect(events.some((e) => e.stage === 'eval-finetuned')).toBe(true);

      // afterFinetune is the fine-tuned store's metrics, evaluated as before/after are.
      const store = tuned as ParamStore;
      expect(store.keys()).toEqual(result.pruned.description.params.map((p) => p.key));
      const net = new CifarResnet(gpu, result.pruned.description, store);
      await net.freezeForEval();
      const batches = [...imageBatches(test, { batchSize: 128, normalize })].map((b) => ({
        x: b.x,
        labels: b.y,
        n: b.size,
      }));
      const m = await evaluateClassifier(gpu, net, batches);
      net.unfreeze();
      expect(r.metrics.afterFinetune).toEqual({ accuracy: m.accuracy, loss: m.loss, samples: 30 });
      const key = 'linear.weight';
      expect(await gpu.readF32(store.get(key))).not.toEqual(await gpu.readF32(result.view.get(key)));

      const html = renderReportHtml(r);
      expect(html).toMatch(/after 2 fine-tuning epochs/);
    } finally {
      tuned?.dispose();
    }
    const now = await params.toArrays();
    for (const k of Object.keys(snapshot)) expect(now[k], k).toEqual(snapshot[k]);
  });

  it('without fine-tuning reports none and returns no store', async () => {
    const result = await pruneSglp({ gpu, desc, params, normalize, train, test }, options());
    expect(result.finetuned).toBeUndefined();
    expect(result.report.protocol.finetune).toBeNull();
    expect(result.report.metrics.afterFinetune).toBeUndefined();
    expect(result.report.timings.finetuneMs).toBe(0);
  });
});
