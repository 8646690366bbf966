import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gunzip, isGzip } from '../../src/io/gzip.js';
import { idxImagesAndLabels, parseIdx } from '../../src/io/idx.js';

/** An IDX file of unsigned bytes. */
function idx(dims: number[], data: number[] | Uint8Array, type = 0x08): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = type;
  out[3] = dims.length;
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d); // big-endian
  out.set(data, 4 + 4 * dims.length);
  return out;
}

const images = idx([2, 2, 3], [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
const labels = idx([2], [7, 3]);

describe('IDX', () => {
  it('reads raw and gzip-compressed files alike', async () => {
    for (const bytes of [images, new Uint8Array(gzipSync(images))]) {
      const a = await parseIdx(bytes, 'imgs');
      expect(a.dims).toEqual([2, 2, 3]);
      expect(Array.from(a.data)).toEqual([0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
    }
    expect(isGzip(new Uint8Array(gzipSync(images)))).toBe(true);
    expect(isGzip(images)).toBe(false);
  });

  it('pairs images with labels', async () => {
    const d = idxImagesAndLabels(await parseIdx(images, 'i'), await parseIdx(labels, 'l'), {
      images: 'i',
      labels: 'l',
    });
    expect(d).toMatchObject({ n: 2, h: 2, w: 3 });
    expect(Array.from(d.labels)).toEqual([7, 3]);
  });

  it('refuses bad magic, types, truncation and trailing bytes, naming the file', async () => {
    await expect(parseIdx(Uint8Array.of(1, 2, 8, 1, 0, 0, 0, 0), 'x.idx')).rejects.toThrow(
      'x.idx: bad IDX magic 0x01020801',
    );
    await expect(parseIdx(idx([2], [0, 0, 0, 0, 0, 0, 0, 0], 0x0d), 'x.idx')).rejects.toThrow(
      'x.idx: IDX element type 0x0d is not supported (expected 0x08, unsigned bytes)',
    );
    await expect(parseIdx(images.subarray(0, images.length - 1), 'x.idx')).rejects.toThrow(
      'x.idx: dimensions [2, 2, 3] need 12 bytes of data, the file has 11 (truncated?)',
    );
    await expect(parseIdx(idx([2], [1, 2, 3]), 'x.idx')).rejects.toThrow(
      'need 2 bytes of data, the file has 3',
    );
    await expect(parseIdx(images.subarray(0, 10), 'x.idx')).rejects.toThrow(
      'x.idx: truncated IDX header (rank 3)',
    );
    await expect(parseIdx(Uint8Array.of(0, 0), 'x.idx')).rejects.toThrow(
      'x.idx: 2 bytes, too short for an IDX header',
    );
  });

  it('refuses corrupt gzip data', async () => {
    const gz = new Uint8Array(gzipSync(images));
    await expect(gunzip(gz.subarray(0, gz.length - 10), 'x.gz')).rejects.toThrow(
      'x.gz: gzip data is corrupt or truncated',
    );
  });

  it('refuses mismatched images and labels', async () => {
    const i = await parseIdx(images, 'imgs');
    await expect(async () =>
      idxImagesAndLabels(i, await parseIdx(idx([3], [1, 2, 3]), 'lbls'), { images: 'imgs', labels: 'lbls' }),
    ).rejects.toThrow('lbls: 3 labels for the 2 images of imgs');
    expect(() => idxImagesAndLabels(i, i, { images: 'imgs', labels: 'imgs' })).toThrow(
      'imgs: expected labels of rank 1 [N], got [2, 2, 3]',
    );
  });
});
