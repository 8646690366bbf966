// Deno (issue 6 item 3): examples/deno/prune.ts runs cka + prune through dist/index.js under
// `deno run --unstable-webgpu` (npm `deno`) on the tiny model; its CKA matrix must match Node's within
// 1e-5 (f32 Grams on two WebGPU stacks), its segments, kept units and pruned files exactly.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cka, exportModel, loadIdxSplits, prune, segment } from '../../src/index.js';
import { loadModelDir } from '../../src/node/api.js';
import { expectSameExport } from '../helpers/export-compare.js';
import { useGpu } from '../helpers/gpu.js';
import { ROOT, runDeno } from '../helpers/runtimes.js';
import { writeTinyMnist, writeTinyModel } from '../helpers/tiny-model.js';

const EXAMPLE = path.join(ROOT, 'examples', 'deno', 'prune.ts');
const TIMEOUT_MS = 180_000;
const CKA_TOLERANCE = 1e-5;
const S = { remove: 3, samples: 40, batch: 20, gradnormBatches: 2, gradnormBatchSize: 8, evalLimit: 30 };

const getGpu = useGpu();
let scratch = '';
let node: {
  cka: number[][];
  segments: [number, number][];
  kept: number[];
  removed: number[];
  files: ReadonlyMap<string, Uint8Array>;
};

interface DenoOut {
  units: string[];
  cka: number[][];
  segments: [number, number][];
  kept: number[];
  removed: number[];
}

beforeAll(async () => {
  scratch = mkdtempSync(path.join(tmpdir(), 'sglp-deno-prune-'));
  mkdirSync(path.join(scratch, 'model'));
  mkdirSync(path.join(scratch, 'data'));
  await writeTinyModel(path.join(scratch, 'model'));
  await writeTinyMnist(path.join(scratch, 'data'), 64, 30);
  const model = await loadModelDir(await getGpu(), path.join(scratch, 'model'));
  try {
    const names = [
      'train-images-idx3-ubyte.gz',
      'train-labels-idx1-ubyte.gz',
      't10k-images-idx3-ubyte.gz',
      't10k-labels-idx1-ubyte.gz',
    ];
    const data = await loadIdxSplits(
      new Map(names.map((n) => [n, new Uint8Array(readFileSync(path.join(scratch, 'data', n)))])),
    );
    const sim = await cka(model, data.train, { samples: S.samples, batch: S.batch });
    const r = await prune(model, data, { ...S, target: { remove: S.remove } });
    node = {
      cka: sim.matrix,
      segments: segment(sim).segments,
      kept: r.report.kept,
      removed: r.report.removed,
      files: (await exportModel(model, r)).files,
    };
    r.view?.dispose();
  } finally {
    model.dispose();
  }
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('Deno example', () => {
  it(
    "runs cka and a prune under deno --unstable-webgpu with Node's results",
    async () => {
      const out = path.join(scratch, 'pruned');
      const args = [
        path.join(scratch, 'model'),
        path.join(scratch, 'data'),
        ...Object.entries(S).flatMap(([k, v]) => [
          `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
          String(v),
        ]),
        '--out',
        out,
      ];
      const { code, signal, stdout, stderr } = await runDeno(EXAMPLE, args, scratch, TIMEOUT_MS);
      expect(signal, `deno was killed (timeout ${TIMEOUT_MS} ms?)\n${stderr}`).toBeNull();
      expect(code, `deno failed:\n${stderr}`).toBe(0);
      expect(stderr, 'progress reaches stderr').toMatch(/recalibrate \d+\/\d+/);
      const got = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as DenoOut;
      let worst = 0;
      got.cka.forEach((row, i) => {
        row.forEach((v, j) => {
          worst = Math.max(worst, Math.abs(v - node.cka[i][j]));
        });
      });
      console.log(`[deno] worst |CKA deno - CKA node| = ${worst.toExponential(2)}`);
      expect(got.cka).toHaveLength(node.cka.length);
      expect(worst).toBeLessThanOrEqual(CKA_TOLERANCE);
      expect(got.segments).toEqual(node.segments);
      expect(got.kept).toEqual(node.kept);
      expect(got.removed).toEqual(node.removed);
      for (const [name, bytes] of node.files) {
        const written = new Uint8Array(readFileSync(path.join(out, name)));
        if (name.endsWith('.safetensors')) await expectSameExport(written, bytes, name);
        else expect(Buffer.compare(written, Buffer.from(bytes)), name).toBe(0);
      }
    },
    TIMEOUT_MS + 30_000,
  );
});
