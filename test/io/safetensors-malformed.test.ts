import { describe, expect, it } from 'vitest';
import { openSafetensors } from '../../src/io/safetensors.js';
import { serializeSafetensors } from '../../src/io/safetensors-write.js';
import { bytesSource } from '../../src/io/source.js';
import { rawSafetensors } from './helpers.js';

const open = (bytes: Uint8Array) => openSafetensors(bytesSource(bytes, 'bad.safetensors'));
const entry = (dtype: string, shape: number[], offsets: number[]) =>
  JSON.stringify({ dtype, shape, data_offsets: offsets });

describe('safetensors reader refuses malformed files with a precise error', () => {
  it('too short for the length prefix', async () => {
    await expect(open(new Uint8Array(5))).rejects.toThrow(
      'bad.safetensors: file is 5 bytes, too short for a safetensors header',
    );
  });

  it('header length past the end of the file (truncated)', async () => {
    const good = await serializeSafetensors({ w: { dtype: 'F32', shape: [4], data: new Float32Array(4) } });
    await expect(open(good.subarray(0, 40))).rejects.toThrow(
      /^bad\.safetensors: header length \d+ runs past the end of the 40-byte file \(truncated\?\)$/,
    );
  });

  it('data truncated after a complete header', async () => {
    const good = await serializeSafetensors({ w: { dtype: 'F32', shape: [4], data: new Float32Array(4) } });
    await expect(open(good.subarray(0, good.byteLength - 4))).rejects.toThrow(
      'bad.safetensors: tensor "w": data_offsets [0, 16] run past the 12-byte data section (truncated file?)',
    );
  });

  it('oversized header length (not a safetensors file)', async () => {
    await expect(open(rawSafetensors('{}', new Uint8Array(0), 2n ** 40n))).rejects.toThrow(
      'bad.safetensors: header length 1099511627776 exceeds the 100000000-byte limit (not a safetensors file?)',
    );
    await expect(open(rawSafetensors('{}', new Uint8Array(0), 100_000_001n))).rejects.toThrow(
      'exceeds the 100000000-byte limit',
    );
  });

  it('bad JSON, a header that is not an object, invalid UTF-8', async () => {
    await expect(open(rawSafetensors('{"w": {"dtype": "F32",'))).rejects.toThrow(
      'bad.safetensors: header is not valid JSON',
    );
    await expect(open(rawSafetensors('[1, 2]   '))).rejects.toThrow('header does not start with "{"');
    const bad = rawSafetensors('{"\u00e9":1}');
    bad[11] = 0xff; // break the UTF-8 sequence of the key
    await expect(open(bad)).rejects.toThrow('bad.safetensors: header is not valid UTF-8');
  });

  it('unknown dtype, listing the known ones', async () => {
    await expect(
      open(rawSafetensors(`{"w":${entry('F4', [2], [0, 1])}}`, new Uint8Array(1))),
    ).rejects.toThrow(
      'bad.safetensors: tensor "w": unknown dtype "F4" (known: BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64)',
    );
  });

  it('shape and dtype that do not match the offsets', async () => {
    await expect(
      open(rawSafetensors(`{"w":${entry('F32', [2, 3], [0, 16])}}`, new Uint8Array(16))),
    ).rejects.toThrow(
      'bad.safetensors: tensor "w": data_offsets [0, 16] hold 16 bytes but F32 [2,3] needs 24',
    );
    await expect(open(rawSafetensors(`{"w":${entry('F32', [2, -1], [0, 0])}}`))).rejects.toThrow(
      'tensor "w": shape [2,-1] is not an array of non-negative integers of safe size',
    );
    await expect(open(rawSafetensors(`{"w":${entry('F32', [2 ** 40, 2 ** 40], [0, 0])}}`))).rejects.toThrow(
      'of safe size',
    );
  });

  it('offsets out of bounds, reversed or not integers', async () => {
    await expect(
      open(rawSafetensors(`{"w":${entry('U8', [4], [4, 8])}}`, new Uint8Array(6))),
    ).rejects.toThrow('tensor "w": data_offsets [4, 8] run past the 6-byte data section');
    await expect(
      open(rawSafetensors(`{"w":${entry('U8', [0], [4, 2])}}`, new Uint8Array(6))),
    ).rejects.toThrow('tensor "w": data_offsets [4, 2] end before they begin');
    await expect(
      open(rawSafetensors(`{"w":${entry('U8', [1], [0.5, 1.5])}}`, new Uint8Array(2))),
    ).rejects.toThrow(
      'tensor "w": data_offsets must be [begin, end] with non-negative integers, got [0.5,1.5]',
    );
    await expect(open(rawSafetensors('{"w":{"dtype":"U8","shape":[1]}}', new Uint8Array(1)))).rejects.toThrow(
      'data_offsets must be [begin, end]',
    );
  });

  it('overlapping tensors, naming both', async () => {
    const header = `{"a":${entry('U8', [4], [0, 4])},"b":${entry('U8', [4], [2, 6])}}`;
    await expect(open(rawSafetensors(header, new Uint8Array(6)))).rejects.toThrow(
      'bad.safetensors: tensor "b": data_offsets [2, 6] overlap those of "a" [0, 4]',
    );
  });

  it('entries and metadata of the wrong type', async () => {
    await expect(open(rawSafetensors('{"w":[1,2]}'))).rejects.toThrow('tensor "w": entry must be an object');
    await expect(open(rawSafetensors('{"__metadata__":{"epochs":3}}'))).rejects.toThrow(
      'bad.safetensors: "__metadata__"."epochs" must be a string, got 3',
    );
  });

  it('accepts a gap-free, well-formed file written by hand', async () => {
    const file = await open(
      rawSafetensors(
        `{"a":${entry('U8', [2], [0, 2])},"b":${entry('U8', [0], [2, 2])}}  `,
        Uint8Array.of(1, 2),
      ),
    );
    expect(file.keys()).toEqual(['a', 'b']);
    expect(Array.from(await file.bytes('a'))).toEqual([1, 2]);
  });
});
