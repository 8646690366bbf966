// The IDX format of MNIST and Fashion-MNIST: magic 0x00 0x00 TYPE RANK, RANK big-endian u32 dimensions, then
// the elements. Only unsigned bytes (type 0x08) are used by these data sets and only they are read.

import { FormatError } from './errors.js';
import { maybeGunzip } from './gzip.js';

export interface IdxArray {
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

const UBYTE = 0x08;

/** Parses IDX bytes, gzip-compressed or raw; the element count must match the dimensions exactly. */
export async function parseIdx(input: Uint8Array, file: string): Promise<IdxArray> {
  const bytes = await maybeGunzip(input, file);
  if (bytes.byteLength < 4) {
    throw new FormatError(file, `${bytes.byteLength} bytes, too short for an IDX header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(0) !== 0) {
    throw new FormatError(
      file,
      `bad IDX magic 0x${view.getUint32(0).toString(16).padStart(8, '0')} (not an IDX file?)`,
    );
  }
  const type = bytes[2];
  const rank = bytes[3];
  if (type !== UBYTE) {
    throw new FormatError(
      file,
      `IDX element type 0x${type.toString(16).padStart(2, '0')} is not supported (expected 0x08, unsigned bytes)`,
    );
  }
  if (rank < 1) throw new FormatError(file, 'IDX rank 0');
  const start = 4 + 4 * rank;
  if (bytes.byteLength < start) throw new FormatError(file, `truncated IDX header (rank ${rank})`);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    dims.push(view.getUint32(4 + 4 * i));
    count *= dims[i];
  }
  const have = bytes.byteLength - start;
  if (have !== count) {
    throw new FormatError(
      file,
      `dimensions [${dims.join(', ')}] need ${count} bytes of data, the file has ${have}${have < count ? ' (truncated?)' : ''}`,
    );
  }
  return { dims, data: bytes.subarray(start) };
}

/** Checks an images/labels pair (ranks 3 and 1, equal counts) and returns them as N images of H x W. */
export function idxImagesAndLabels(
  images: IdxArray,
  labels: IdxArray,
  files: { images: string; labels: string },
): { n: number; h: number; w: number; images: Uint8Array; labels: Int32Array } {
  if (images.dims.length !== 3) {
    throw new FormatError(
      files.images,
      `expected images of rank 3 [N, H, W], got [${images.dims.join(', ')}]`,
    );
  }
  if (labels.dims.length !== 1) {
    throw new FormatError(files.labels, `expected labels of rank 1 [N], got [${labels.dims.join(', ')}]`);
  }
  const [n, h, w] = images.dims;
  if (labels.dims[0] !== n) {
    throw new FormatError(files.labels, `${labels.dims[0]} labels for the ${n} images of ${files.images}`);
  }
  return { n, h, w, images: images.data, labels: Int32Array.from(labels.data) };
}
