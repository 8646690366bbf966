// `sglp prune` on BF16 and F16 LLaMA checkpoints keeps their dtype: without fine-tuning every kept tensor
// is the input's bytes under its renumbered key, config.json's torch_dtype stays, the file is about half
// an F32 one, and `sglp eval` of it gives the report's perplexity. `--save-dtype` converts (f32 widens
// exactly; bf16 from an F16 input rounds to nearest even) and says so in config.json.

import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evalCommand } from '../../src/cli/eval.js';
import { type PruneCliOptions, pruneCommand } from '../../src/cli/prune.js';
import { decodeBF16, decodeF16, encodeBF16 } from '../../src/num/half.js';
import type { Report } from '../../src/sglp/report/schema.js';
import { captureIo, digest } from '../helpers/cli.js';
import { useGpu } from '../helpers/gpu.js';
import { readRawTensors, TINY_LLAMA_TEXT, tinyTextPrune, writeTinyLlama } from '../helpers/tiny-llama.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

const getGpu = useGpu();
const LAYERS = 6;
const SEQ = 16;
let root: string;
let corpus: string;
const models: Record<'BF16' | 'F16', { dir: string; tied: boolean }> = {
  BF16: { dir: '', tied: true },
  F16: { dir: '', tied: false },
};

const base = (out: string, extra: Partial<PruneCliOptions> = {}) => tinyTextPrune(corpus, SEQ, out, extra);

/** The input key of a pruned model's key: layer i is the report's kept[i]. */
function oldKey(key: string, report: Report): string {
  return key.replace(/^model\.layers\.(\d+)\./, (_, i) => `model.layers.${report.kept[Number(i)]}.`);
}

function bits16(bytes: Uint8Array): Uint16Array {
  return new Uint16Array(bytes.slice().buffer);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sglp-prune-dtype-'));
  corpus = join(root, 'corpus.txt');
  await writeFile(corpus, TINY_LLAMA_TEXT.repeat(8));
  for (const [dtype, m] of Object.entries(models) as ['BF16' | 'F16', (typeof models)['BF16']][]) {
    m.dir = join(root, `in-${dtype}`);
    await writeTinyLlama(m.dir, { layers: LAYERS, tied: m.tied, dtype, seed: 90 });
  }
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('sglp prune keeps a half-precision LLM in its dtype', () => {
  for (const dtype of ['BF16', 'F16'] as const) {
    it(`${dtype} in, ${dtype} out: kept tensors byte for byte, config, size, sglp eval round trip`, async () => {
      const gpu = await getGpu();
      const { dir, tied } = models[dtype];
      const before = await digest(dir);
      const out = join(root, `out-${dtype}`);
      const report = await pruneCommand(dir, base(out), { io: captureIo().io, gpu });
      expect(report.removed).toHaveLength(2);

      const input = await readRawTensors(join(dir, 'model.safetensors'));
      const got = await readRawTensors(join(out, 'model.safetensors'));
      expect(got.size).toBe(2 + (tied ? 0 : 1) + (LAYERS - 2) * 9);
      let elements = 0;
      for (const [key, t] of got) {
        const from = input.get(oldKey(key, report));
        expect(from, key).toBeDefined();
        expect(t.dtype, key).toBe(dtype);
        expect(t.shape, key).toEqual(from?.shape);
        expect(Buffer.from(t.bytes).equals(Buffer.from(from?.bytes ?? [])), key).toBe(true);
        elements += t.shape.reduce((a, b) => a * b, 1);
      }
      // Two bytes per value after the header: the data is half of what F32 would take.
      const file = await readFile(join(out, 'model.safetensors'));
      const header = 8 + Number(file.readBigUInt64LE(0));
      expect(file.byteLength - header).toBe(2 * elements);
      expect(file.byteLength).toBeLessThan(header + 4 * elements);

      const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
      expect(config.torch_dtype).toBe(dtype === 'BF16' ? 'bfloat16' : 'float16');
      expect(config.num_hidden_layers).toBe(LAYERS - 2);

      const after = await evalCommand(
        out,
        { data: `text:${corpus}`, seqLen: SEQ },
        { io: captureIo().io, gpu },
      );
      const m = report.metrics.after as { nll: number; tokens: number };
      expect(after.tokens).toBe(m.tokens);
      expect(Math.abs(after.nll - m.nll)).toBeLessThanOrEqual(1e-6 * m.nll);
      expect(await digest(dir)).toEqual(before);
    });
  }

  it('--save-dtype f32 widens a BF16 model exactly and says float32 in config.json', async () => {
    const gpu = await getGpu();
    const out = join(root, 'bf16-as-f32');
    const report = await pruneCommand(models.BF16.dir, base(out, { saveDtype: 'f32' }), {
      io: captureIo().io,
      gpu,
    });
    const input = await readRawTensors(join(models.BF16.dir, 'model.safetensors'));
    const got = await readRawTensors(join(out, 'model.safetensors'));
    for (const [key, t] of got) {
      expect(t.dtype, key).toBe('F32');
      const want = decodeBF16(bits16(input.get(oldKey(key, report))?.bytes ?? new Uint8Array()));
      expect(new Float32Array(t.bytes.slice().buffer), key).toEqual(want);
    }
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config.torch_dtype).toBe('float32');
    const after = await evalCommand(
      out,
      { data: `text:${corpus}`, seqLen: SEQ },
      { io: captureIo().io, gpu },
    );
    const m = report.metrics.after as { nll: number };
    expect(Math.abs(after.nll - m.nll)).toBeLessThanOrEqual(1e-6 * m.nll);
  });

  it('--save-dtype bf16 rounds an F16 model to nearest even, as torch would', async () => {
    const gpu = await getGpu();
    const out = join(root, 'f16-as-bf16');
    const report = await pruneCommand(models.F16.dir, base(out, { saveDtype: 'bf16' }), {
      io: captureIo().io,
      gpu,
    });
    const input = await readRawTensors(join(models.F16.dir, 'model.safetensors'));
    const got = await readRawTensors(join(out, 'model.safetensors'));
    let changed = 0;
    for (const [key, t] of got) {
      expect(t.dtype, key).toBe('BF16');
      const f16 = decodeF16(bits16(input.get(oldKey(key, report))?.bytes ?? new Uint8Array()));
      const want = encodeBF16(f16);
      expect(bits16(t.bytes), key).toEqual(want);
      // Not a truncation: some values round up.
      const truncated = new Uint16Array(new Uint32Array(f16.buffer).map((b) => b >>> 16));
      changed += want.filter((w, i) => w !== truncated[i]).length;
    }
    expect(changed).toBeGreaterThan(0);
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config.torch_dtype).toBe('bfloat16');
  });

  it('refuses a bad --save-dtype, and f16/bf16 for an image classifier', async () => {
    const gpu = await getGpu();
    const { io } = captureIo();
    await expect(
      pruneCommand(models.BF16.dir, base(join(root, 'bad'), { saveDtype: 'f8' }), { io, gpu }),
    ).rejects.toThrow(/--save-dtype must be one of auto, f32, f16, bf16, got "f8"/);
    // Checked before any data is read.
    const cnn = join(root, 'cnn');
    await mkdir(cnn);
    await writeTinyModel(cnn);
    await expect(
      pruneCommand(
        cnn,
        { data: `mnist:${join(root, 'none')}`, remove: 3, out: join(root, 'cnn-out'), saveDtype: 'bf16' },
        { io, gpu },
      ),
    ).rejects.toThrow(/--save-dtype bf16: .* is an image classifier, written as F32/);
  });
});
