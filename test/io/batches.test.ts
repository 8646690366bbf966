import { describe, expect, it } from 'vitest';
import { batchCount, imageBatches, normalizationTable, sampleOrder } from '../../src/io/batches.js';
import { concatImageDatasets, type ImageDataset, imageDataset } from '../../src/io/dataset.js';

/** n images of c x h x w whose pixel values encode (image, channel, row, column) compactly. */
function synthetic(n: number, c: number, h: number, w: number): ImageDataset {
  const images = new Uint8Array(n * c * h * w).map((_, i) => (i * 7 + 3) & 0xff);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
  return imageDataset({ name: 'synthetic', images, labels, n, c, h, w, classes: 10 });
}

const grey = { mean: [0.286], std: [0.353] };
const rgb = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.243, 0.261] };
const bits = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0];

describe('normalisation', () => {
  it('equals torchvision ToTensor + Normalize bit for bit', () => {
    const t = normalizationTable(grey, 1)[0];
    // float32 results of torch: uint8 -> float().div(255).sub_(mean).div_(std), for pixels 0, 1, 128, 255.
    expect([t[0], t[1], t[128], t[255]].map(bits)).toEqual([0xbf4f6929, 0xbf4c911b, 0x3f1c9e13, 0x4001734f]);
  });

  it('normalises each channel with its own mean and std, in file order by default', () => {
    const ds = synthetic(5, 3, 2, 2);
    const batches = [...imageBatches(ds, { batchSize: 2, normalize: rgb })];
    expect(batches.map((b) => b.size)).toEqual([2, 2, 1]);
    expect(Array.from(batches[1].indices)).toEqual([2, 3]);
    expect(Array.from(batches[1].y)).toEqual([2, 3]);
    const f = Math.fround;
    for (const b of batches) {
      b.indices.forEach((img, k) => {
        for (let i = 0; i < 12; i++) {
          const ch = Math.floor(i / 4);
          const p = ds.images[img * 12 + i];
          expect(b.x[k * 12 + i]).toBe(f(f(f(p / 255) - f(rgb.mean[ch])) / f(rgb.std[ch])));
        }
      });
    }
  });

  it('counts batches, honours limit and dropLast, and refuses mismatched normalisation', () => {
    const ds = synthetic(10, 1, 2, 2);
    expect(batchCount(ds, { batchSize: 4, normalize: grey })).toBe(3);
    expect(batchCount(ds, { batchSize: 4, normalize: grey, dropLast: true })).toBe(2);
    expect([...imageBatches(ds, { batchSize: 4, normalize: grey, dropLast: true })].length).toBe(2);
    expect([...imageBatches(ds, { batchSize: 4, normalize: grey, limit: 5 })].map((b) => b.size)).toEqual([
      4, 1,
    ]);
    expect(() => [...imageBatches(ds, { batchSize: 4, normalize: rgb })]).toThrow(
      'normalize has 3 means and 3 stds for 1 channels',
    );
    expect(() => [...imageBatches(ds, { batchSize: 0, normalize: grey })]).toThrow(
      'batch size must be >= 1, got 0',
    );
  });
});

describe('shuffling and augmentation', () => {
  it('shuffles to a seeded permutation that changes with seed and epoch', () => {
    const a = sampleOrder(50, { shuffle: true, seed: 1 });
    expect(Array.from(sampleOrder(50, { shuffle: true, seed: 1 }))).toEqual(Array.from(a));
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(sampleOrder(50, { shuffle: true, seed: 2 }))).not.toEqual(Array.from(a));
    expect(Array.from(sampleOrder(50, { shuffle: true, seed: 1, epoch: 1 }))).not.toEqual(Array.from(a));
    expect(() => sampleOrder(5, { shuffle: true })).toThrow('shuffle needs a seed');
  });

  it('gives identical augmented batches for the same seed and epoch, different ones otherwise', () => {
    const ds = synthetic(16, 3, 8, 8);
    const run = (seed: number, epoch = 0) =>
      [...imageBatches(ds, { batchSize: 5, normalize: rgb, shuffle: true, augment: true, seed, epoch })].map(
        (b) => Array.from(b.x),
      );
    expect(run(9)).toEqual(run(9));
    expect(run(9)).not.toEqual(run(10));
    expect(run(9, 1)).not.toEqual(run(9));
    // Augmenting does not change the order shuffling picks.
    const plain = [...imageBatches(ds, { batchSize: 5, normalize: rgb, shuffle: true, seed: 9 })].map((b) =>
      Array.from(b.indices),
    );
    const aug = [
      ...imageBatches(ds, { batchSize: 5, normalize: rgb, shuffle: true, augment: true, seed: 9 }),
    ].map((b) => Array.from(b.indices));
    expect(aug).toEqual(plain);
  });

  it('crops a zero-padded image and flips it: every output is a shifted (and maybe mirrored) copy', () => {
    for (const [c, h, w] of [
      [3, 32, 32],
      [1, 28, 28],
    ]) {
      const ds = synthetic(40, c, h, w);
      const normalize = c === 3 ? rgb : grey;
      const tables = normalizationTable(normalize, c);
      const seen = { flips: 0, shifts: new Set<string>() };
      for (const b of imageBatches(ds, {
        batchSize: 16,
        normalize,
        augment: { pad: 4, flip: true },
        seed: 5,
      })) {
        b.indices.forEach((img, k) => {
          const out = b.x.subarray(k * c * h * w, (k + 1) * c * h * w);
          const found = findTransform(
            out,
            ds.images.subarray(img * c * h * w, (img + 1) * c * h * w),
            c,
            h,
            w,
            tables,
          );
          expect(found, `image ${img} is not a crop/flip of its source`).toBeDefined();
          if (found?.flip) seen.flips++;
          seen.shifts.add(`${found?.dy},${found?.dx}`);
        });
      }
      expect(seen.flips).toBeGreaterThan(5);
      expect(seen.flips).toBeLessThan(35);
      expect(seen.shifts.size).toBeGreaterThan(15);
    }
  });

  it('with pad 0 and no flip, augmentation is the identity', () => {
    const ds = synthetic(6, 1, 5, 5);
    const plain = [...imageBatches(ds, { batchSize: 6, normalize: grey })][0].x;
    const aug = [
      ...imageBatches(ds, { batchSize: 6, normalize: grey, augment: { pad: 0, flip: false }, seed: 1 }),
    ][0].x;
    expect(Array.from(aug)).toEqual(Array.from(plain));
  });
});

/** The crop offset (dy, dx in -4..4) and flip that turn `src` into `out`, if any. */
function findTransform(
  out: Float32Array,
  src: Uint8Array,
  c: number,
  h: number,
  w: number,
  tables: Float32Array[],
) {
  for (const flip of [false, true]) {
    for (let dy = -4; dy <= 4; dy++) {
      for (let dx = -4; dx <= 4; dx++) {
        let ok = true;
        for (let ch = 0; ch < c && ok; ch++) {
          for (let r = 0; r < h && ok; r++) {
            for (let col = 0; col < w && ok; col++) {
              const sr = r + dy;
              const sc = (flip ? w - 1 - col : col) + dx;
              const p = sr >= 0 && sr < h && sc >= 0 && sc < w ? src[ch * h * w + sr * w + sc] : 0;
              ok = out[ch * h * w + r * w + col] === tables[ch][p];
            }
          }
        }
        if (ok) return { flip, dy, dx };
      }
    }
  }
  return undefined;
}

describe('ImageDataset', () => {
  it('checks sizes and labels and joins parts in order', () => {
    const a = synthetic(3, 1, 2, 2);
    const b = synthetic(2, 1, 2, 2);
    const joined = concatImageDatasets('both', [a, b]);
    expect(joined.n).toBe(5);
    expect(Array.from(joined.labels)).toEqual([0, 1, 2, 0, 1]);
    expect(Array.from(joined.images.subarray(12))).toEqual(Array.from(b.images));
    expect(() => imageDataset({ ...a, labels: Int32Array.of(0, 1, 10) })).toThrow(
      'synthetic: image 2 has label 10, expected 0..9',
    );
    expect(() => imageDataset({ ...a, n: 4 })).toThrow('synthetic: 12 pixels, expected 4x1x2x2 = 16');
    expect(() => concatImageDatasets('x', [a, synthetic(1, 3, 2, 2)])).toThrow(
      'images 3x2x2 / 10 classes, unlike synthetic',
    );
  });
});
