import { describe, expect, it } from 'vitest';
import {
  decodeBF16,
  decodeF16,
  encodeBF16,
  encodeF16,
  f32BitsToBF16,
  f32BitsToF16,
} from '../../src/num/half.js';

const bitsOf = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0];
const f16 = (h: number) => decodeF16(Uint16Array.of(h))[0];
const bf16 = (h: number) => decodeBF16(Uint16Array.of(h))[0];

describe('float16', () => {
  it('widens every non-NaN float16 exactly and narrows it back to the same bits', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const wide = decodeF16(all);
    const back = encodeF16(wide);
    for (let h = 0; h < 65536; h++) {
      const nan = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (nan) expect(Number.isNaN(wide[h])).toBe(true);
      else if (back[h] !== h)
        throw new Error(`0x${h.toString(16)} -> ${wide[h]} -> 0x${back[h].toString(16)}`);
    }
  });

  it('decodes known values, infinities, subnormals and signed zero', () => {
    expect(f16(0x3c00)).toBe(1);
    expect(f16(0xc000)).toBe(-2);
    expect(f16(0x7bff)).toBe(65504);
    expect(f16(0x0001)).toBe(2 ** -24);
    expect(f16(0x03ff)).toBe(1023 * 2 ** -24);
    expect(f16(0x7c00)).toBe(Number.POSITIVE_INFINITY);
    expect(f16(0xfc00)).toBe(Number.NEGATIVE_INFINITY);
    expect(Object.is(f16(0x8000), -0)).toBe(true);
    expect(Number.isNaN(f16(0x7e00))).toBe(true);
    expect(Number.isNaN(f16(0xfc01))).toBe(true);
  });

  it('narrows with round-to-nearest-even, overflow to infinity, and quiet NaN', () => {
    expect(f32BitsToF16(bitsOf(1 + 2 ** -11))).toBe(0x3c00); // tie -> even
    expect(f32BitsToF16(bitsOf(1 + 3 * 2 ** -11))).toBe(0x3c02); // tie -> even (up)
    expect(f32BitsToF16(bitsOf(65519.99))).toBe(0x7bff);
    expect(f32BitsToF16(bitsOf(65520))).toBe(0x7c00);
    expect(f32BitsToF16(bitsOf(1e9))).toBe(0x7c00);
    expect(f32BitsToF16(bitsOf(-1e9))).toBe(0xfc00);
    expect(f32BitsToF16(bitsOf(2 ** -25))).toBe(0x0000); // tie between 0 and the smallest subnormal
    expect(f32BitsToF16(bitsOf(3 * 2 ** -26))).toBe(0x0001);
    expect(f32BitsToF16(bitsOf(1e-10))).toBe(0x0000);
    expect(f32BitsToF16(bitsOf(Number.NaN))).toBe(0x7e00);
    expect(f32BitsToF16(bitsOf(Number.NEGATIVE_INFINITY))).toBe(0xfc00);
  });
});

describe('bfloat16', () => {
  it('widens by a 16-bit shift (exact, NaN payloads kept) and narrows back to the same bits', () => {
    for (let h = 0; h < 65536; h++) {
      const w = bf16(h);
      const nan = (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
      expect(bitsOf(w) === (h << 16) >>> 0 || nan).toBe(true);
      if (!nan && f32BitsToBF16(bitsOf(w)) !== h) throw new Error(`0x${h.toString(16)}`);
    }
    expect(bf16(0x3f80)).toBe(1);
    expect(bf16(0x7f80)).toBe(Number.POSITIVE_INFINITY);
    expect(bf16(0xff80)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('narrows with round-to-nearest-even as torch does', () => {
    expect(f32BitsToBF16(bitsOf(1 + 2 ** -8))).toBe(0x3f80); // tie -> even
    expect(f32BitsToBF16(bitsOf(1 + 3 * 2 ** -8))).toBe(0x3f82); // tie -> even (up)
    expect(f32BitsToBF16(bitsOf(1.00390625 + 2 ** -20))).toBe(0x3f81);
    expect(f32BitsToBF16(0x7f7fffff)).toBe(0x7f80); // the largest float32 rounds to infinity
    expect(f32BitsToBF16(bitsOf(Number.NaN))).toBe(0x7fc0);
    expect(Array.from(encodeBF16(Float32Array.of(65504, -0.1)))).toEqual([0x4780, 0xbdcd]);
  });
});
