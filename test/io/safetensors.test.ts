import { describe, expect, it } from 'vitest';
import { SAFETENSORS_DTYPES, type SafetensorsDtype } from '../../src/io/dtypes.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import {
  encodeSafetensors,
  serializeSafetensors,
  type TensorToWrite,
} from '../../src/io/safetensors-write.js';
import { bytesSource } from '../../src/io/source.js';
import { ascii, bytesOf } from './helpers.js';

const f32 = (...v: number[]) => new Float32Array(v);

async function roundTrip(tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>) {
  const bytes = await serializeSafetensors(tensors, metadata);
  return { bytes, file: await openSafetensors(bytesSource(bytes, 'rt.safetensors')) };
}

describe('safetensors writer: byte-exact with the reference implementation', () => {
  it('writes a header that needs no padding exactly as the reference does', async () => {
    const bytes = await serializeSafetensors({
      'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: f32(0, 1, 2, 3, 4, 5) },
    });
    const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    expect(header.length).toBe(64);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([64, 0, 0, 0, 0, 0, 0, 0]);
    expect(ascii(bytes.subarray(8, 72))).toBe(header);
    expect(Array.from(bytes.subarray(72))).toEqual(Array.from(bytesOf(f32(0, 1, 2, 3, 4, 5))));
  });

  it('pads the header with spaces to a multiple of 8 bytes', async () => {
    const bytes = await serializeSafetensors({
      attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data: f32(0, 1, 2, 3, 4, 5) },
    });
    expect(bytes[0]).toBe(72);
    expect(ascii(bytes.subarray(8, 80))).toBe(
      `${'{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}'}${' '.repeat(7)}`,
    );
    expect(bytes.byteLength).toBe(80 + 24);
  });

  it('writes an empty file and metadata-only file as the reference does', async () => {
    expect(Array.from(await serializeSafetensors({}))).toEqual([
      8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32,
    ]);
    const withMeta = await serializeSafetensors({}, { framework: 'pt' });
    expect(withMeta[0]).toBe(40);
    expect(ascii(withMeta.subarray(8))).toBe(`{"__metadata__":{"framework":"pt"}}${' '.repeat(5)}`);
  });

  it('orders tensors by dtype alignment (largest first), then by name bytes, with __metadata__ first', async () => {
    const t = (dtype: SafetensorsDtype, n = 1): TensorToWrite => ({
      dtype,
      shape: [n],
      data: new Uint8Array(n * size(dtype)),
    });
    const enc = encodeSafetensors(
      {
        a: t('U8'),
        b: t('F32'),
        c: t('F64'),
        d: t('I64'),
        e: t('BF16'),
        f: t('F16'),
        B: t('F32'),
        é: t('F32'),
        '\u{1F600}': t('F32'),
        '\uFFFD': t('F32'),
      },
      { format: 'pt' },
    );
    // Code-point (UTF-8 byte) order puts U+FFFD before U+1F600; UTF-16 order would not.
    expect(enc.order).toEqual(['d', 'c', 'B', 'b', 'é', '\uFFFD', '\u{1F600}', 'e', 'f', 'a']);
    expect(
      ascii(enc.header.subarray(8)).startsWith('{"__metadata__":{"format":"pt"},"d":{"dtype":"I64"'),
    ).toBe(true);
  });

  it('streams one chunk per non-empty tensor and produces lazy data only while iterating', async () => {
    let produced = 0;
    const enc = encodeSafetensors({
      w: {
        dtype: 'F32',
        shape: [2],
        data: () => {
          produced++;
          return f32(1, 2);
        },
      },
      empty: { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
      b: { dtype: 'F16', shape: [2], data: async () => f32(0.5, -2) },
    });
    expect(produced).toBe(0);
    const chunks: Uint8Array[] = [];
    for await (const c of enc.chunks()) chunks.push(c);
    expect(produced).toBe(1);
    expect(chunks.length).toBe(3);
    expect(chunks.reduce((s, c) => s + c.byteLength, 0)).toBe(enc.byteLength);
  });

  it('rejects data whose length does not match dtype x shape, naming the tensor', async () => {
    expect(() => encodeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: f32(1, 2, 3) } })).toThrow(
      'tensor "w": 12 bytes of data, but F32 [2, 2] needs 16 bytes',
    );
    const lazy = encodeSafetensors({ w: { dtype: 'BF16', shape: [3], data: () => f32(1) } });
    await expect(async () => {
      for await (const _ of lazy.chunks());
    }).rejects.toThrow('tensor "w": 1 floats, but BF16 [3] needs 6 bytes');
    expect(() => encodeSafetensors({ w: { dtype: 'F32', shape: [-1], data: f32() } })).toThrow(
      'tensor "w": bad shape [-1]',
    );
    expect(() =>
      encodeSafetensors({ w: { dtype: 'F4' as SafetensorsDtype, shape: [1], data: f32() } }),
    ).toThrow('unknown dtype F4');
  });
});

function size(dtype: SafetensorsDtype): number {
  return {
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
  }[dtype];
}

describe('safetensors round trip', () => {
  it('keeps the raw bytes of every dtype, with shapes, and aligns every tensor in the file', async () => {
    const tensors: Record<string, TensorToWrite> = {};
    SAFETENSORS_DTYPES.forEach((dtype, i) => {
      const data = new Uint8Array(3 * 2 * size(dtype)).map((_, j) => (j * 37 + i) & 0xff);
      tensors[`t.${dtype}`] = { dtype, shape: [3, 2], data };
    });
    tensors.scalar = { dtype: 'F32', shape: [], data: f32(7) };
    tensors['empty.a'] = { dtype: 'F16', shape: [0], data: new Uint16Array(0) };
    tensors['empty.b'] = { dtype: 'I64', shape: [4, 0, 2], data: new BigInt64Array(0) };
    const { bytes, file } = await roundTrip(tensors);
    expect(file.keys().length).toBe(SAFETENSORS_DTYPES.length + 3);
    for (const [key, t] of Object.entries(tensors)) {
      const info = file.info(key);
      expect(info.dtype).toBe(t.dtype);
      expect(info.shape).toEqual(t.shape);
      expect(Array.from(await file.bytes(key))).toEqual(Array.from(bytesOf(t.data as ArrayBufferView)));
      // Offsets are from an 8-aligned data start, and sorting by alignment keeps each tensor aligned.
      const start = 8 + new DataView(bytes.buffer).getUint32(0, true) + info.dataOffsets[0];
      expect(start % size(t.dtype)).toBe(0);
    }
    expect(await file.float32('scalar')).toEqual(f32(7));
    expect((await file.float32('empty.a')).length).toBe(0);
    expect((await file.int32('empty.b')).length).toBe(0);
  });

  it('reads F32, F16, BF16 and F64 as float32, narrowing Float32Array input for F16/BF16', async () => {
    const values = f32(0, -0, 1, -2.5, 65504, 2 ** -24, 0.1, Number.POSITIVE_INFINITY);
    const { file } = await roundTrip({
      a: { dtype: 'F32', shape: [8], data: values },
      h: { dtype: 'F16', shape: [2, 4], data: values },
      b: { dtype: 'BF16', shape: [8], data: values },
      d: { dtype: 'F64', shape: [8], data: Float64Array.from(values) },
    });
    expect(await file.float32('a')).toEqual(values);
    expect(await file.float32('d')).toEqual(values);
    const h = await file.float32('h', [2, 4]);
    expect(Array.from(h.subarray(0, 6))).toEqual([0, -0, 1, -2.5, 65504, 2 ** -24]);
    expect(h[6]).toBe(0.0999755859375); // nearest float16 to 0.1
    const b = await file.float32('b');
    expect(b[4]).toBe(65536); // nearest bfloat16 to 65504
    expect(b[6]).toBe(0.10009765625);
    expect(b[7]).toBe(Number.POSITIVE_INFINITY);
  });

  it('reads integer tensors as int32, refusing values that do not fit', async () => {
    const { file } = await roundTrip({
      i64: { dtype: 'I64', shape: [3], data: BigInt64Array.from([0n, -5n, 2147483647n]) },
      big: { dtype: 'I64', shape: [1], data: BigInt64Array.from([2n ** 31n]) },
      u8: { dtype: 'U8', shape: [2], data: Uint8Array.from([0, 255]) },
      i16: { dtype: 'I16', shape: [1], data: Int16Array.from([-300]) },
      u32: { dtype: 'U32', shape: [1], data: Uint32Array.from([2 ** 31]) },
      f: { dtype: 'F32', shape: [1], data: f32(1) },
    });
    expect(Array.from(await file.int32('i64'))).toEqual([0, -5, 2147483647]);
    expect(Array.from(await file.int32('u8'))).toEqual([0, 255]);
    expect(Array.from(await file.int32('i16'))).toEqual([-300]);
    await expect(file.int32('big')).rejects.toThrow(
      'rt.safetensors: tensor "big": element 0 of this I64 tensor does not fit in int32',
    );
    await expect(file.int32('u32')).rejects.toThrow('does not fit in int32');
    await expect(file.int32('f')).rejects.toThrow('tensor "f": dtype F32 cannot be read as integers');
    await expect(file.float32('u8')).rejects.toThrow('tensor "u8": dtype U8 cannot be read as floats');
  });

  it('keeps metadata and names missing keys and mismatched shapes', async () => {
    const { file } = await roundTrip(
      { 'linear.weight': { dtype: 'F32', shape: [2, 3], data: new Float32Array(6) } },
      {
        format: 'pt',
        note: 'a "quoted" \\ value\n',
      },
    );
    expect(file.metadata).toEqual({ format: 'pt', note: 'a "quoted" \\ value\n' });
    expect(file.has('linear.weight')).toBe(true);
    expect(() => file.info('linear.bias')).toThrow(
      'rt.safetensors: tensor "linear.bias": not found among the 1 tensors',
    );
    await expect(file.float32('linear.weight', [3, 2])).rejects.toThrow(
      'tensor "linear.weight": shape [2, 3] in the file, expected [3, 2]',
    );
  });

  it('reads tensors whose bytes arrive misaligned (a source returning odd offsets)', async () => {
    const bytes = await serializeSafetensors({ w: { dtype: 'F32', shape: [3], data: f32(1, 2, 3) } });
    const shifted = new Uint8Array(bytes.byteLength + 1);
    shifted.set(bytes, 1);
    const file = await openSafetensors(bytesSource(shifted.subarray(1), 'odd'));
    expect(await file.float32('w')).toEqual(f32(1, 2, 3));
  });
});
