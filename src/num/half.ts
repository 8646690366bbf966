// Float16 and bfloat16 <-> float32 on the CPU, for checkpoints. Narrowing rounds to nearest even as PyTorch
// does (checked against torch on 20k values), so a tensor we narrow is the one torch would write; NaN becomes
// the quiet NaN 0x7e00 / 0x7fc0 (torch's scalar path; its vector path writes 0xffff, also a NaN).
// Here, below both gpu/ (f16 tensors' upload and readback) and io/ (checkpoints), so neither imports the other.

let f16Table: Float32Array | undefined;

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** All 65536 float16 values as float32, built once: a lookup beats bit twiddling per element. */
function table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = halfToFloat(h);
    // Keep NaN payloads and signs, as a bit-exact widening would (the arithmetic above makes a plain NaN).
    const bits = new Uint32Array(f16Table.buffer);
    for (let h = 0; h < 65536; h++) {
      if ((h & 0x7c00) === 0x7c00 && h & 0x3ff) {
        bits[h] = ((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13);
      }
    }
  }
  return f16Table;
}

export function decodeF16(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  const t = table();
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]];
  return out;
}

export function decodeBF16(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  const o = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bits.length; i++) o[i] = bits[i] << 16;
  return out;
}

/** float32 bit pattern -> float16 bits, round to nearest even, overflow to infinity. */
export function f32BitsToF16(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | (mant ? 0x7e00 : 0x7c00);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent, up to infinity.
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}

/** float32 bit pattern -> bfloat16 bits, round to nearest even. */
export function f32BitsToBF16(b: number): number {
  if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) return 0x7fc0;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

export function encodeF16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32BitsToF16(bits[i]);
  return out;
}

export function encodeBF16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32BitsToBF16(bits[i]);
  return out;
}
