// Edges of src/io/idx.ts that mutation testing (docs/mutation.md) found untested: a 4-byte file with rank 0,
// a header exactly as long as its rank needs, the "(truncated?)" hint only when data is short, images that
// are not rank 3.

import { describe, expect, it } from 'vitest';
import { idxImagesAndLabels, parseIdx } from '../../src/io/idx.js';

/** An unsigned-byte IDX file: magic 0x0000 08 rank, big-endian dims, then `data` bytes. */
function idx(dims: number[], data: number): Uint8Array {
  const b = new Uint8Array(4 + 4 * dims.length + data);
  b[2] = 0x08;
  b[3] = dims.length;
  const v = new DataView(b.buffer);
  dims.forEach((d, i) => {
    v.setUint32(4 + 4 * i, d);
  });
  return b;
}

describe('parseIdx edges', () => {
  it('a 4-byte header of rank 0 is "IDX rank 0", not a short file', async () => {
    await expect(parseIdx(Uint8Array.of(0, 0, 8, 0), 'f')).rejects.toThrow('IDX rank 0');
  });

  it('a header exactly as long as its rank needs, with its dimension 0, is an empty array', async () => {
    const a = await parseIdx(idx([0], 0), 'f');
    expect(a.dims).toEqual([0]);
    expect(a.data.length).toBe(0);
  });

  it('a header one byte short of its dimensions is truncated', async () => {
    await expect(parseIdx(idx([2, 3], 0).subarray(0, 11), 'f')).rejects.toThrow(
      'truncated IDX header (rank 2)',
    );
  });

  it('says "(truncated?)" when data is missing and not when there is too much', async () => {
    await expect(parseIdx(idx([2, 3], 5), 'f')).rejects.toThrow(
      'dimensions [2, 3] need 6 bytes of data, the file has 5 (truncated?)',
    );
    const long = parseIdx(idx([2, 3], 7), 'f');
    await expect(long).rejects.toThrow(/need 6 bytes of data, the file has 7$/);
  });
});

describe('idxImagesAndLabels edges', () => {
  it('rejects images that are not [N, H, W], naming the images file', async () => {
    const images = await parseIdx(idx([2, 9], 18), 'imgs');
    const labels = await parseIdx(idx([2], 2), 'labs');
    expect(() => idxImagesAndLabels(images, labels, { images: 'imgs', labels: 'labs' })).toThrow(
      /imgs.*expected images of rank 3 \[N, H, W\], got \[2, 9\]/,
    );
  });
});
