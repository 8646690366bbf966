// The public API (src/api) on the tiny model: every way of giving a model loads the same tensors; cka
// equals the calibration stage; segment equals segmentCka; prune equals pruneSglp on the same inputs;
// evaluate agrees with the pipeline's "before" metrics; exportModel's bytes load back as the pruned
// model; an aborted signal stops every verb; bad input gets an error naming it.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cka,
  evaluate,
  exportModel,
  type ImageModel,
  loadIdxSplits,
  loadImageDataset,
  loadModel,
  prune,
  segment,
} from '../../src/index.js';
import type { ImageDataset } from '../../src/io/dataset.js';
import { loadModelDir } from '../../src/node/api.js';
import { calibrate } from '../../src/sglp/calibrate.js';
import { pruneSglp } from '../../src/sglp/families/image/prune.js';
import type { ParamView } from '../../src/sglp/pruned-view.js';
import { segmentCka } from '../../src/sglp/segment.js';
import { useGpu } from '../helpers/gpu.js';
import { tinyConfig, writeTinyMnist, writeTinyModel } from '../helpers/tiny-model.js';

const getGpu = useGpu();
let dir = '';
let model: ImageModel;
let data: { train: ImageDataset; test: ImageDataset };
let server: Server | undefined;

const SETTINGS = {
  target: { remove: 3 },
  samples: 40,
  batch: 20,
  gradnormBatches: 2,
  gradnormBatchSize: 8,
  score: 'gradnorm' as const,
  // The export is checked against the as-pruned metrics: no repair in between.
  recalibrate: 0,
};
const DATA_FILES = [
  'train-images-idx3-ubyte.gz',
  'train-labels-idx1-ubyte.gz',
  't10k-images-idx3-ubyte.gz',
  't10k-labels-idx1-ubyte.gz',
];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'sglp-api-'));
  mkdirSync(path.join(dir, 'model'));
  await writeTinyModel(path.join(dir, 'model'), 5);
  await writeTinyMnist(dir, 64, 30);
  model = (await loadModelDir(await getGpu(), path.join(dir, 'model'))) as ImageModel;
  const files = new Map(DATA_FILES.map((f) => [f, new Uint8Array(readFileSync(path.join(dir, f)))]));
  data = await loadIdxSplits(files, 'tiny');
});

afterAll(async () => {
  model?.dispose();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  rmSync(dir, { recursive: true, force: true });
});

describe('loading', () => {
  it('loads the same tensors from a directory, a Map, a record of Blobs and a URL', async () => {
    const gpu = await getGpu();
    const bytes = (f: string) => new Uint8Array(readFileSync(path.join(dir, 'model', f)));
    const reference = await model.params.toArrays();
    server = createServer((req, res) => {
      const name = path.basename(req.url ?? '');
      if (!['config.json', 'model.safetensors'].includes(name)) return void res.writeHead(404).end();
      const body = readFileSync(path.join(dir, 'model', name));
      res.writeHead(200, { 'content-length': body.byteLength });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/m/`;
    const sources = [
      new Map([
        ['config.json', bytes('config.json')],
        ['model.safetensors', bytes('model.safetensors')],
      ]),
      {
        'config.json': new Blob([bytes('config.json')]),
        'model.safetensors': new Blob([bytes('model.safetensors')]),
      },
      [
        new File([bytes('config.json')], 'config.json'),
        new File([bytes('model.safetensors')], 'model.safetensors'),
      ],
      url,
    ];
    for (const source of sources) {
      const m = (await loadModel(gpu, source)) as ImageModel;
      try {
        const got = await m.params.toArrays();
        expect(Object.keys(got).sort()).toEqual(Object.keys(reference).sort());
        for (const k of Object.keys(reference)) expect(got[k]).toEqual(reference[k]);
        expect(m.carried.size).toBe(model.desc.ignoredKeys.length);
      } finally {
        m.dispose();
      }
    }
  });

  it('names what is missing or wrong', async () => {
    const gpu = await getGpu();
    await expect(loadModel(gpu, new Map())).rejects.toThrow(/no config\.json/);
    const cfg = new TextEncoder().encode(JSON.stringify(tinyConfig()));
    await expect(loadModel(gpu, new Map([['config.json', cfg]]))).rejects.toThrow(/model\.safetensors/);
    await expect(loadIdxSplits(new Map(), 'nothing')).rejects.toThrow(/train-images-idx3-ubyte\.gz/);
    await expect(
      loadImageDataset({ images: new Uint8Array([0, 0, 8, 3]), labels: new Uint8Array(0), name: 'bad' }),
    ).rejects.toThrow(/bad/);
  });
});

describe('verbs', () => {
  it('cka is the calibration stage, and segment is segmentCka of it', async () => {
    const gpu = await getGpu();
    const progress: number[] = [];
    const got = await cka(model, data.train, {
      samples: 40,
      batch: 20,
      onProgress: (p) => progress.push(p.done),
    });
    const ref = await calibrate(gpu, { ...model, train: data.train }, { samples: 40, batch: 20 });
    expect(got.matrix).toEqual(ref.cka.matrix);
    expect(progress).toEqual([1, 2]);
    expect(segment(got)).toEqual(segmentCka(ref.cka.matrix, { names: ref.cka.units }));
    expect(segment(got.matrix, { segments: 3 }).segments).toHaveLength(3);
  });

  it('prune is pruneSglp; evaluate matches its "before"; the export loads back as the pruned model', async () => {
    const gpu = await getGpu();
    const stages = new Set<string>();
    const r = await prune(model, data, { ...SETTINGS, onProgress: (p) => stages.add(p.stage) });
    const ref = await pruneSglp(
      { gpu, desc: model.desc, params: model.params, normalize: model.normalize, ...data },
      { ...SETTINGS, dataSpec: 'tiny', input: 'in', output: 'out' },
    );
    expect(r.report.kept).toEqual(ref.report.kept);
    expect(r.report.cka.matrix).toEqual(ref.report.cka.matrix);
    expect(r.report.importance).toEqual(ref.report.importance);
    expect([...stages]).toEqual(
      expect.arrayContaining(['features', 'importance', 'eval-before', 'eval-after']),
    );
    const before = await evaluate(model, data.test);
    expect(before.accuracy).toBe((r.report.metrics.before as { accuracy: number }).accuracy);
    expect(before.loss).toBeCloseTo((r.report.metrics.before as { loss: number }).loss, 6);

    const exported = await exportModel(model, r);
    const pruned = (await loadModel(gpu, exported.files)) as ImageModel;
    try {
      expect(pruned.desc.units).toHaveLength(r.report.kept.length);
      expect(JSON.parse(exported.config)).toEqual(r.pruned.config);
      const arrays = await pruned.params.toArrays();
      for (const p of r.pruned.description.params) {
        expect(arrays[p.key], p.key).toEqual(await gpu.readF32((r.view as ParamView).get(p.key)));
      }
      const after = await evaluate(pruned, data.test);
      expect(after.accuracy).toBe((r.report.metrics.after as { accuracy: number }).accuracy);
    } finally {
      pruned.dispose();
      r.view?.dispose();
      ref.view.dispose();
    }
  });

  it('stops at an aborted signal', async () => {
    const signal = AbortSignal.abort();
    await expect(cka(model, data.train, { samples: 40, batch: 20, signal })).rejects.toThrow(/abort/i);
    await expect(evaluate(model, data.test, { signal })).rejects.toThrow(/abort/i);
    await expect(prune(model, data, { ...SETTINGS, signal })).rejects.toThrow(/abort/i);
  });

  it('refuses data the model cannot take', async () => {
    const wrong = { ...data.train, name: 'wrong', h: 4, w: 16 };
    await expect(cka(model, wrong)).rejects.toThrow(/wrong has 1x4x16 images/);
  });
});
