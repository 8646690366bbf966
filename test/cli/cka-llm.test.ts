import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CkaCliOptions, ckaCommand } from '../../src/cli/cka.js';
import { DeviceMemoryError } from '../../src/gpu/pool.js';
import { captureIo } from '../helpers/cli.js';
import { useGpu } from '../helpers/gpu.js';

const getGpu = useGpu();
// The bundled trained model (byte-level vocabulary, 12 decoder layers, tied), read from disk.
const MODEL = fileURLToPath(new URL('../../models/fortunes-llama12', import.meta.url));
const TEXT = 'A layer at a time: read, upload, run every batch, free. Then the next one. '.repeat(12);

let root: string;
let corpus: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sglp-cka-llm-'));
  corpus = join(root, 'corpus.txt');
  await writeFile(corpus, TEXT);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('sglp cka on a language model', () => {
  it('--stream gives the loaded model’s matrix, and fits a --memory-cap the whole model does not', async () => {
    const gpu = await getGpu();
    const opts: CkaCliOptions = { data: `text:${corpus}`, samples: 6, batch: 2, seqLen: 16 };
    const a = captureIo();
    const loaded = await ckaCommand(MODEL, opts, { gpu, io: a.io });
    expect(loaded.units).toHaveLength(12);
    expect(loaded.batches).toBe(3);
    expect(loaded.batchSize).toBe(32);
    expect(a.out.join('')).toMatch(/peak device memory: [\d.]+ [kMGT]?B \(\d+ bytes\)\n/);

    const weights = 2246912; // 2 246 912 f32 bytes: embedding, 12 layers, final norm (tied head)
    const cap = Math.floor(weights / 2);
    const b = captureIo();
    const out = join(root, 'cka.json');
    const streamed = await ckaCommand(
      MODEL,
      { ...opts, stream: true, memoryCap: cap, out },
      { gpu, io: b.io },
    );
    expect(streamed).toEqual(loaded);
    expect(JSON.parse(await readFile(out, 'utf8'))).toEqual(loaded);
    const peak = Number(
      /peak device memory: [\d.]+ [kMGT]?B \((\d+) bytes\) \(layer streaming\)/.exec(b.out.join(''))?.[1],
    );
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(cap);
    expect(gpu.pool.memoryCap).toBeUndefined();
    const c = captureIo();
    const perBatch = await ckaCommand(
      MODEL,
      { ...opts, streamPerBatch: true, memoryCap: cap },
      { gpu, io: c.io },
    );
    expect(perBatch).toEqual(loaded);
    expect(c.out.join('')).toMatch(/peak device memory: [\d.]+ [kMGT]?B \(\d+ bytes\) \(layer streaming\)/);

    await expect(ckaCommand(MODEL, { ...opts, memoryCap: cap }, { gpu, io: captureIo().io })).rejects.toThrow(
      DeviceMemoryError,
    );
    expect(gpu.pool.memoryCap).toBeUndefined();
  });

  it('the language-model flags are refused for an image model, naming the flag', async () => {
    const gpu = await getGpu();
    const image = fileURLToPath(new URL('../../models/fmnist-resnet56', import.meta.url));
    await expect(
      ckaCommand(image, { data: 'fashion-mnist', stream: true }, { gpu, io: captureIo().io }),
    ).rejects.toThrow(/--stream applies to language models only/);
  });
});
