import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FASHION_MNIST_DIR, loadImageDataset } from '../../src/node/datasets.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sglp-data-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function idx(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out[2] = 0x08;
  out[3] = dims.length;
  for (const [i, d] of dims.entries()) new DataView(out.buffer).setUint32(4 + 4 * i, d);
  out.set(data, 4 + 4 * dims.length);
  return out;
}

const haveFashionMnist = existsSync(join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz'));

describe('loadImageDataset', () => {
  it.skipIf(!haveFashionMnist)(
    'loads the real Fashion-MNIST test split from the Debian package',
    async () => {
      const ds = await loadImageDataset('fashion-mnist', 'test');
      expect(ds).toMatchObject({ name: 'fashion-mnist test', n: 10000, c: 1, h: 28, w: 28, classes: 10 });
      expect(ds.images.length).toBe(10000 * 28 * 28);
      expect(Array.from(ds.labels.subarray(0, 10))).toEqual([9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
      // Balanced classes: 1000 test images each.
      const counts = new Array(10).fill(0);
      for (const y of ds.labels) counts[y]++;
      expect(counts).toEqual(new Array(10).fill(1000));
    },
  );

  it.skipIf(!haveFashionMnist)('loads the Fashion-MNIST training split', async () => {
    const ds = await loadImageDataset(`fashion-mnist:${FASHION_MNIST_DIR}`, 'train');
    expect(ds).toMatchObject({ name: 'fashion-mnist train', n: 60000, c: 1, h: 28, w: 28 });
    expect(ds.images.length).toBe(60000 * 784);
  });

  it('loads MNIST-style raw (uncompressed) IDX files from a directory', async () => {
    const mnist = join(dir, 'mnist');
    await mkdir(mnist);
    await writeFile(
      join(mnist, 'train-images-idx3-ubyte'),
      idx(
        [3, 2, 2],
        Uint8Array.from({ length: 12 }, (_, i) => i),
      ),
    );
    await writeFile(join(mnist, 'train-labels-idx1-ubyte.gz'), gzipSync(idx([3], Uint8Array.of(4, 0, 9))));
    const ds = await loadImageDataset({ kind: 'mnist', dir: mnist }, 'train');
    expect(ds).toMatchObject({ name: 'mnist train', n: 3, c: 1, h: 2, w: 2, classes: 10 });
    expect(Array.from(ds.labels)).toEqual([4, 0, 9]);
    await expect(loadImageDataset(`mnist:${mnist}`, 'test')).rejects.toThrow(
      `data spec "mnist:${mnist}": ${join(mnist, 't10k-images-idx3-ubyte.gz')} not found (nor t10k-images-idx3-ubyte, t10k-images.idx3-ubyte.gz, t10k-images.idx3-ubyte there)`,
    );
  });

  it('names the Debian package when the default Fashion-MNIST directory is missing files', async () => {
    await expect(loadImageDataset(`fashion-mnist:${join(dir, 'none')}`, 'train')).rejects.toThrow(
      `${join(dir, 'none', 'train-images-idx3-ubyte.gz')} not found (nor train-images-idx3-ubyte, ` +
        "train-images.idx3-ubyte.gz, train-images.idx3-ubyte there) (Debian's dataset-fashion-mnist package " +
        `installs it in ${FASHION_MNIST_DIR})`,
    );
    if (!haveFashionMnist) {
      await expect(loadImageDataset('fashion-mnist', 'train')).rejects.toThrow(
        "install Debian's dataset-fashion-mnist package",
      );
    }
  });

  it('loads CIFAR-10 batches from the unpacked folder or its parent, and CIFAR-100', async () => {
    const record = (label: number[], fill: number) =>
      Uint8Array.from([...label, ...new Array(3072).fill(fill)]);
    const c10 = join(dir, 'c10', 'cifar-10-batches-bin');
    await mkdir(c10, { recursive: true });
    for (let i = 1; i <= 5; i++) await writeFile(join(c10, `data_batch_${i}.bin`), record([i], i * 10));
    await writeFile(join(c10, 'test_batch.bin'), Buffer.concat([record([7], 1), record([8], 2)]));
    const train = await loadImageDataset(`cifar10:${join(dir, 'c10')}`, 'train');
    expect(train).toMatchObject({ name: 'cifar10 train', n: 5, c: 3, h: 32, w: 32, classes: 10 });
    expect(Array.from(train.labels)).toEqual([1, 2, 3, 4, 5]);
    expect(train.images[4 * 3072]).toBe(50);
    const test = await loadImageDataset(`cifar10:${c10}`, 'test');
    expect(Array.from(test.labels)).toEqual([7, 8]);

    const c100 = join(dir, 'c100');
    await mkdir(c100);
    await writeFile(join(c100, 'test.bin'), record([3, 77], 0));
    const t100 = await loadImageDataset(`cifar100:${c100}`, 'test');
    expect(t100).toMatchObject({ n: 1, classes: 100 });
    expect(Array.from(t100.labels)).toEqual([77]);
    await expect(loadImageDataset(`cifar100:${c100}`, 'train')).rejects.toThrow(
      `${join(c100, 'train.bin')} not found`,
    );
  });

  it('refuses text specs', async () => {
    await expect(loadImageDataset('text:corpus.txt', 'train')).rejects.toThrow(
      'data spec "text:corpus.txt": not an image data set',
    );
  });
});
