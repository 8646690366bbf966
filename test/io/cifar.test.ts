import { describe, expect, it } from 'vitest';
import { parseCifarBatch } from '../../src/io/cifar.js';

/** Records with the given label bytes and pixels equal to (record + position) mod 256. */
function records(labels: number[][]): Uint8Array {
  const size = labels[0].length + 3072;
  const out = new Uint8Array(labels.length * size);
  labels.forEach((l, r) => {
    out.set(l, r * size);
    for (let p = 0; p < 3072; p++) out[r * size + l.length + p] = (r + p) & 0xff;
  });
  return out;
}

describe('CIFAR binary batches', () => {
  it('reads CIFAR-10 records: label byte then R, G, B planes', () => {
    const b = parseCifarBatch(records([[3], [9]]), 'cifar10', 'data_batch_1.bin');
    expect(b.n).toBe(2);
    expect(Array.from(b.labels)).toEqual([3, 9]);
    expect(b.coarse).toBeUndefined();
    expect(b.images.length).toBe(2 * 3072);
    expect(b.images[0]).toBe(0);
    expect(b.images[1024]).toBe(1024 & 0xff); // first green pixel
    expect(b.images[3072]).toBe(1); // second image starts at its own pixel 0
  });

  it('reads CIFAR-100 records: coarse then fine label', () => {
    const b = parseCifarBatch(
      records([
        [19, 99],
        [0, 42],
      ]),
      'cifar100',
      'train.bin',
    );
    expect(Array.from(b.labels)).toEqual([99, 42]);
    expect(Array.from(b.coarse ?? [])).toEqual([19, 0]);
    expect(b.images[3072]).toBe(1);
  });

  it('refuses partial records and out-of-range labels, naming the file', () => {
    expect(() => parseCifarBatch(records([[1]]).subarray(1), 'cifar10', 'test_batch.bin')).toThrow(
      'test_batch.bin: 3072 bytes is not a whole number of 3073-byte cifar10 records (wrong data set, or truncated?)',
    );
    expect(() => parseCifarBatch(records([[1], [10]]), 'cifar10', 't.bin')).toThrow(
      't.bin: record 1 has label 10, expected 0..9',
    );
    expect(() => parseCifarBatch(records([[20, 5]]), 'cifar100', 't.bin')).toThrow(
      'record 0 has coarse label 20, expected 0..19',
    );
    // A CIFAR-10 file read as CIFAR-100 does not divide into 3074-byte records.
    expect(() => parseCifarBatch(records([[1], [2]]), 'cifar100', 'x.bin')).toThrow(
      '3074-byte cifar100 records',
    );
  });
});
