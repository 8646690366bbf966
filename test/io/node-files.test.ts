import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelConfig } from '../../src/io/config.js';
import { openCheckpoint } from '../../src/io/safetensors-index.js';
import { serializeSafetensors } from '../../src/io/safetensors-write.js';
import {
  directorySource,
  openFileSource,
  writeFileAtomic,
  writeSafetensorsFile,
} from '../../src/node/files.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sglp-files-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('file sources', () => {
  it('reads exact ranges at offsets and refuses reads past the end', async () => {
    const path = join(dir, 'bytes.bin');
    await writeFile(
      path,
      Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff),
    );
    const src = await openFileSource(path);
    try {
      expect(src.size).toBe(1000);
      expect(Array.from(await src.read(998, 2))).toEqual([230, 231]);
      const r = await src.read(3, 5);
      expect(r.byteOffset).toBe(0); // fresh, aligned buffers
      expect(Array.from(r)).toEqual([3, 4, 5, 6, 7]);
      expect((await src.read(1000, 0)).length).toBe(0);
      await expect(src.read(999, 2)).rejects.toThrow(
        `${path}: read of 2 bytes at 999 is past its 1000 bytes`,
      );
    } finally {
      await src.close?.();
    }
  });

  it('opens a model directory: config and weights', async () => {
    const model = join(dir, 'model');
    await mkdir(model);
    const config = {
      architecture: 'cifar-resnet',
      depth: 20,
      shortcut: 'A',
      in_channels: 3,
      num_classes: 10,
      input_size: [3, 32, 32],
      normalize: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
    };
    await writeFileAtomic(join(model, 'config.json'), JSON.stringify(config));
    await writeSafetensorsFile(join(model, 'model.safetensors'), {
      'conv1.weight': {
        dtype: 'F32',
        shape: [16, 3, 3, 3],
        data: new Float32Array(432).map((_, i) => i / 10),
      },
      'bn1.num_batches_tracked': { dtype: 'I64', shape: [], data: BigInt64Array.of(390n) },
    });
    const src = directorySource(model);
    expect(await src.has('model.safetensors')).toBe(true);
    expect(await src.has('model.safetensors.index.json')).toBe(false);
    expect(await readModelConfig(src)).toMatchObject({ depth: 20, blocks: [3, 3, 3] });
    const store = await openCheckpoint(src);
    try {
      expect((await store.float32('conv1.weight', [16, 3, 3, 3]))[431]).toBe(Math.fround(43.1));
      expect(Array.from(await store.int32('bn1.num_batches_tracked'))).toEqual([390]);
    } finally {
      await store.close();
    }
    await expect(src.open('../x')).rejects.toThrow('"../x" is not a plain file name');
  });
});

describe('atomic writes', () => {
  it('writes chunks from any iterable and leaves no temporary file', async () => {
    const path = join(dir, 'out.safetensors');
    const tensors = { w: { dtype: 'F16' as const, shape: [3], data: new Float32Array([1, 2, 3]) } };
    await writeSafetensorsFile(path, tensors, { format: 'pt' });
    expect(new Uint8Array(await readFile(path))).toEqual(
      await serializeSafetensors(tensors, { format: 'pt' }),
    );
    await writeFileAtomic(join(dir, 'parts.bin'), [Uint8Array.of(1, 2), Uint8Array.of(), Uint8Array.of(3)]);
    expect(Array.from(await readFile(join(dir, 'parts.bin')))).toEqual([1, 2, 3]);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('keeps the old file and removes the temporary one when writing fails', async () => {
    const path = join(dir, 'keep.txt');
    await writeFile(path, 'original');
    async function* failing() {
      yield new TextEncoder().encode('partial');
      throw new Error('readback failed');
    }
    await expect(writeFileAtomic(path, failing())).rejects.toThrow(`writing ${path}: readback failed`);
    expect(await readFile(path, 'utf8')).toBe('original');
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // A lazily produced tensor with the wrong size fails the same way.
    await expect(
      writeSafetensorsFile(path, { w: { dtype: 'F32', shape: [4], data: () => new Float32Array(3) } }),
    ).rejects.toThrow('tensor "w": 12 bytes of data, but F32 [4] needs 16 bytes');
    expect(await readFile(path, 'utf8')).toBe('original');
  });

  it('fails clearly when the directory does not exist', async () => {
    // In words, naming the file asked for (not errno text or the hidden temp name).
    await expect(writeFileAtomic(join(dir, 'missing', 'f.txt'), 'x')).rejects.toThrow(
      `${join(dir, 'missing', 'f.txt')}: no such file or directory`,
    );
  });
});
