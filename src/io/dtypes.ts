// The element types of the safetensors format. The order is the reference implementation's (its `Dtype`
// enum, increasing alignment): its writer sorts tensors by this rank, largest first, then by name, and our
// writer must do the same to produce byte-identical files.

export const SAFETENSORS_DTYPES = [
  'BOOL',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'F64',
  'I64',
  'U64',
] as const;

export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];

const SIZES: Readonly<Record<SafetensorsDtype, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

export function isSafetensorsDtype(name: unknown): name is SafetensorsDtype {
  return typeof name === 'string' && Object.hasOwn(SIZES, name);
}

/** Bytes per element. */
export function dtypeSize(dtype: SafetensorsDtype): number {
  return SIZES[dtype];
}

/** Position in the reference enum; the writer puts higher ranks first. */
export function dtypeRank(dtype: SafetensorsDtype): number {
  return SAFETENSORS_DTYPES.indexOf(dtype);
}

/**
 * Elements in a shape, or undefined when a dimension is not a non-negative safe integer or the product (or its
 * byte size, with `elementSize`) leaves the safe-integer range.
 */
export function elementCount(shape: readonly unknown[], elementSize = 1): number | undefined {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return undefined;
    n *= d;
    if (!Number.isSafeInteger(n * elementSize)) return undefined;
  }
  return n;
}

/** Safetensors stores little-endian data; typed-array views are only right on a little-endian host. */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
