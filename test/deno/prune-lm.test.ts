// Deno on a language model: examples/deno/prune.ts prunes models/fortunes-llama12 on a fortunes text
// through dist/index.js under `deno run --unstable-webgpu`; its CKA must match Node's within 1e-5 (f32
// Grams on two WebGPU stacks), its segments and removed layers exactly, and the files it writes must be
// the bytes the library exports in Node (a pruned LM's kept tensors are the checkpoint's bytes).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cka, exportModel, loadTextData, prune, segment } from '../../src/index.js';
import { loadModelDir } from '../../src/node/api.js';
import { useGpu } from '../helpers/gpu.js';
import { ROOT, runDeno } from '../helpers/runtimes.js';

const EXAMPLE = path.join(ROOT, 'examples', 'deno', 'prune.ts');
const MODEL = path.join(ROOT, 'models', 'fortunes-llama12');
const FORTUNES = '/usr/share/games/fortunes/cookie';
const TIMEOUT_MS = 300_000;
const CKA_TOLERANCE = 1e-5;
const S = { remove: 6, samples: 8, batch: 4, gradnormBatches: 1, gradnormBatchSize: 4, evalLimit: 8 };
const SEQ_LEN = 64;
const have = existsSync(FORTUNES);

const getGpu = useGpu();
let scratch = '';
let text = '';
let node: {
  cka: number[][];
  segments: [number, number][];
  removed: number[];
  files: ReadonlyMap<string, Uint8Array>;
};

beforeAll(async () => {
  if (!have) return;
  scratch = mkdtempSync(path.join(tmpdir(), 'sglp-deno-lm-'));
  const all = readFileSync(FORTUNES);
  text = path.join(scratch, 'fortunes.txt');
  writeFileSync(text, all.subarray(0, all.lastIndexOf(10, 40_000) + 1));
  const model = await loadModelDir(await getGpu(), MODEL);
  try {
    if (model.kind !== 'causal-lm') throw new Error(`${MODEL}: not a language model`);
    const data = await loadTextData(model, new Uint8Array(readFileSync(text)), { seqLen: SEQ_LEN });
    const sim = await cka(model, data.train, { samples: S.samples, batch: S.batch });
    const r = await prune(model, data, { ...S, target: { remove: S.remove } });
    node = {
      cka: sim.matrix,
      segments: segment(sim).segments,
      removed: r.report.removed,
      files: (await exportModel(model, r)).files,
    };
    r.view?.dispose();
  } finally {
    await model.dispose();
  }
}, TIMEOUT_MS);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe.skipIf(!have)('Deno example on a language model', () => {
  it(
    "prunes fortunes-llama12 under deno --unstable-webgpu with Node's layers and bytes",
    async () => {
      const out = path.join(scratch, 'pruned');
      const args = [
        MODEL,
        text,
        ...Object.entries(S).flatMap(([k, v]) => [
          `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
          String(v),
        ]),
        '--seq-len',
        String(SEQ_LEN),
        '--out',
        out,
      ];
      const { code, signal, stdout, stderr } = await runDeno(EXAMPLE, args, scratch, TIMEOUT_MS);
      expect(signal, `deno was killed (timeout ${TIMEOUT_MS} ms?)\n${stderr}`).toBeNull();
      expect(code, `deno failed:\n${stderr}`).toBe(0);
      const got = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as typeof node;
      let worst = 0;
      got.cka.forEach((row, i) => {
        row.forEach((v, j) => {
          worst = Math.max(worst, Math.abs(v - node.cka[i][j]));
        });
      });
      console.log(`[deno lm] worst |CKA deno - CKA node| = ${worst.toExponential(2)}`);
      expect(got.cka).toHaveLength(12);
      expect(worst).toBeLessThanOrEqual(CKA_TOLERANCE);
      expect(got.segments).toEqual(node.segments);
      expect(got.removed).toEqual(node.removed);
      expect([...node.files.keys()].sort()).toEqual(['config.json', 'model.safetensors']);
      for (const [name, bytes] of node.files) {
        const written = new Uint8Array(readFileSync(path.join(out, name)));
        expect(Buffer.compare(written, Buffer.from(bytes)), name).toBe(0);
      }
    },
    TIMEOUT_MS + 30_000,
  );
});
