// Turning a tensor's little-endian bytes into the arrays the engine computes with.

import { decodeBF16, decodeF16 } from '../num/half.js';
import type { SafetensorsDtype } from './dtypes.js';
import { FormatError } from './errors.js';

/** A view of `bytes` as `T`, copying only when the bytes are not aligned for it. */
function view<T>(
  bytes: Uint8Array,
  align: number,
  make: (b: ArrayBufferLike, off: number, len: number) => T,
): T {
  const b = bytes.byteOffset % align === 0 ? bytes : new Uint8Array(bytes); // a copy at offset 0
  return make(b.buffer, b.byteOffset, b.byteLength / align);
}

/** F32 as is (a view when aligned), F16/BF16 widened exactly, F64 rounded to the nearest float32. */
export function toFloat32(
  bytes: Uint8Array,
  dtype: SafetensorsDtype,
  file: string,
  key: string,
): Float32Array {
  switch (dtype) {
    case 'F32':
      return view(bytes, 4, (b, o, n) => new Float32Array(b, o, n));
    case 'F16':
      return decodeF16(view(bytes, 2, (b, o, n) => new Uint16Array(b, o, n)));
    case 'BF16':
      return decodeBF16(view(bytes, 2, (b, o, n) => new Uint16Array(b, o, n)));
    case 'F64':
      return Float32Array.from(view(bytes, 8, (b, o, n) => new Float64Array(b, o, n)));
    default:
      throw new FormatError(
        file,
        `dtype ${dtype} cannot be read as floats (expected F32, F16, BF16 or F64)`,
        key,
      );
  }
}

/** Integer tensors as int32; 64-bit and unsigned 32-bit values must fit, else a clear error. */
export function toInt32(bytes: Uint8Array, dtype: SafetensorsDtype, file: string, key: string): Int32Array {
  switch (dtype) {
    case 'I32':
      return view(bytes, 4, (b, o, n) => new Int32Array(b, o, n));
    case 'I8':
      return Int32Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    case 'U8':
    case 'BOOL':
      return Int32Array.from(bytes);
    case 'I16':
      return Int32Array.from(view(bytes, 2, (b, o, n) => new Int16Array(b, o, n)));
    case 'U16':
      return Int32Array.from(view(bytes, 2, (b, o, n) => new Uint16Array(b, o, n)));
    case 'U32':
    case 'I64':
    case 'U64':
      return narrow(bytes, dtype, file, key);
    default:
      throw new FormatError(file, `dtype ${dtype} cannot be read as integers`, key);
  }
}

function narrow(bytes: Uint8Array, dtype: 'U32' | 'I64' | 'U64', file: string, key: string): Int32Array {
  const words = view(bytes, 4, (b, o, n) => new Uint32Array(b, o, n));
  const step = dtype === 'U32' ? 1 : 2;
  const out = new Int32Array(words.length / step);
  for (let i = 0; i < out.length; i++) {
    const lo = words[i * step];
    const hi = step === 2 ? words[i * step + 1] : 0;
    // Fits in int32 when the high word is the sign extension of the low one (unsigned: both zero).
    const fits = dtype === 'I64' ? hi === (lo & 0x80000000 ? 0xffffffff : 0) : hi === 0 && lo < 0x80000000;
    if (!fits) throw new FormatError(file, `element ${i} of this ${dtype} tensor does not fit in int32`, key);
    out[i] = lo | 0;
  }
  return out;
}
