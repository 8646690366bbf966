// Fuzzing the safetensors header parser: random bytes, random headers and mutations of valid files must
// either open (and then every tensor reads within the file) or fail with a FormatError naming the file;
// and no read (the parser's only allocation that scales with the input) asks for more than the file holds.
// Seeded, so a failure reproduces; the case number is in the assertion message.

import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/io/errors.js';
import { Rng } from '../../src/io/prng.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import { serializeSafetensors } from '../../src/io/safetensors-write.js';
import type { ByteSource } from '../../src/io/source.js';

const NAME = 'fuzz.safetensors';

/** An in-memory source that records the largest read and refuses reads outside the bytes. */
function countingSource(bytes: Uint8Array): { source: ByteSource; largest: () => number } {
  let largest = 0;
  return {
    largest: () => largest,
    source: {
      name: NAME,
      size: bytes.byteLength,
      async read(offset, length) {
        largest = Math.max(largest, length);
        if (!(offset >= 0 && length >= 0 && offset + length <= bytes.byteLength)) {
          throw new Error(`read of ${length} bytes at ${offset} outside the ${bytes.byteLength}-byte file`);
        }
        return bytes.slice(offset, offset + length);
      },
    },
  };
}

/** Opens `bytes`, reads every tensor; returns the error thrown, if any, and the largest read. */
async function attempt(bytes: Uint8Array): Promise<{ error?: unknown; largest: number }> {
  const { source, largest } = countingSource(bytes);
  try {
    const file = await openSafetensors(source);
    for (const key of file.keys()) {
      file.info(key);
      await file.bytes(key);
    }
    return { largest: largest() };
  } catch (error) {
    return { error, largest: largest() };
  }
}

function withHeader(header: string, data: Uint8Array, lengthField?: bigint): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, lengthField ?? BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

const rng = new Rng(20_240_915);
const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
const NUMBERS = [0, 1, 2, 3, 4, 7, 8, 16, -1, -4, 1.5, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 60, 1e308, Number.NaN];
const DTYPES = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'U8', 'BOOL', 'F8_E4M3', 'X', '', 'f32'];

function randomValue(depth: number): unknown {
  switch (rng.int(depth > 2 ? 3 : 7)) {
    case 0:
      return pick(NUMBERS);
    case 1:
      return pick(DTYPES);
    case 2:
      return rng.int(2) === 0 ? null : true;
    case 3:
      return Array.from({ length: rng.int(4) }, () => randomValue(depth + 1));
    case 4:
      return { dtype: pick(DTYPES), shape: randomValue(depth + 1), data_offsets: randomValue(depth + 1) };
    case 5:
      return { [pick(['dtype', 'shape', 'data_offsets', '__metadata__', 'w'])]: randomValue(depth + 1) };
    default:
      return Array.from({ length: rng.int(3) }, () => pick(NUMBERS));
  }
}

/** A header that looks like a safetensors header, with random fields. */
function randomHeader(): string {
  const entries: Record<string, unknown> = {};
  for (let i = rng.int(4); i >= 0; i--) {
    const key = pick(['w', 'b', 'layer.0.weight', '__metadata__', '', 'x'.repeat(rng.int(40))]);
    entries[key] =
      rng.int(3) === 0
        ? randomValue(0)
        : {
            dtype: pick(DTYPES),
            shape: Array.from({ length: rng.int(4) }, () => pick(NUMBERS)),
            data_offsets: [pick(NUMBERS), pick(NUMBERS)],
          };
  }
  return JSON.stringify(entries);
}

async function validFile(): Promise<Uint8Array> {
  return serializeSafetensors(
    {
      a: { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
      b: { dtype: 'F16', shape: [4], data: new Float32Array([1, -1, 0.5, 2]) },
      c: { dtype: 'I64', shape: [], data: BigInt64Array.of(7n) },
    },
    { format: 'pt' },
  );
}

function mutate(good: Uint8Array): Uint8Array {
  const b = good.slice();
  switch (rng.int(6)) {
    case 0: // flip a few bytes anywhere
      for (let i = rng.int(4) + 1; i > 0; i--) b[rng.int(b.length)] ^= 1 << rng.int(8);
      return b;
    case 1: // truncate
      return b.subarray(0, rng.int(b.length));
    case 2: // a random header length field
      new DataView(b.buffer).setBigUint64(
        0,
        BigInt(pick(NUMBERS.filter((n) => n >= 0 && n < 2 ** 64 && Number.isInteger(n)))),
        true,
      );
      return b;
    case 3: // garbage in the JSON
      for (let i = rng.int(3) + 1; i > 0; i--)
        b[8 + rng.int(Math.max(1, b.length - 8))] = pick([
          0x22, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x39, 0x2d, 0x00, 0xff,
        ]);
      return b;
    case 4: // extra bytes at the end
      return new Uint8Array([...b, ...Array.from({ length: rng.int(20) + 1 }, () => rng.int(256))]);
    default:
      {
        // a digit of an offset or shape changed
        const text = new TextDecoder().decode(b.subarray(8));
        const digits = [...text.matchAll(/\d/g)].map((m) => m.index ?? 0);
        if (digits.length > 0) b[8 + pick(digits)] = 0x30 + rng.int(10);
      }
      return b;
  }
}

function check(i: number, kind: string, bytes: Uint8Array, r: { error?: unknown; largest: number }): void {
  const what = `case ${i} (${kind}, ${bytes.byteLength} bytes)`;
  expect(r.largest, `${what}: largest read`).toBeLessThanOrEqual(bytes.byteLength);
  if (r.error !== undefined) {
    expect(r.error, `${what}: ${String(r.error)}`).toBeInstanceOf(FormatError);
    expect((r.error as Error).message.startsWith(`${NAME}:`), `${what}: ${(r.error as Error).message}`).toBe(
      true,
    );
  }
}

describe('safetensors header parser under fuzzing', () => {
  it('random bytes never crash it', async () => {
    for (let i = 0; i < 300; i++) {
      const bytes = Uint8Array.from({ length: rng.int(64) }, () => rng.int(256));
      check(i, 'random bytes', bytes, await attempt(bytes));
    }
  });

  it('random headers: a named error or a file whose tensors all lie inside it', async () => {
    for (let i = 0; i < 1500; i++) {
      const data = Uint8Array.from({ length: rng.int(48) }, () => rng.int(256));
      const bytes = withHeader(randomHeader(), data);
      check(i, 'random header', bytes, await attempt(bytes));
    }
  });

  it('mutations of a valid file: a named error or a file whose tensors all lie inside it', async () => {
    const good = await validFile();
    expect((await attempt(good)).error).toBeUndefined();
    for (let i = 0; i < 1500; i++) {
      const bytes = mutate(good);
      check(i, 'mutated', bytes, await attempt(bytes));
    }
  });
});
