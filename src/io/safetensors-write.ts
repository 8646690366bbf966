// Writing safetensors files byte-for-byte as the reference implementation (and so `safetensors.torch.save_file`)
// does: tensors sorted by dtype rank descending then by name (byte order), contiguous data in that order,
// compact JSON with "__metadata__" first and each entry as {"dtype","shape","data_offsets"}, and the header
// padded with spaces to a multiple of 8 bytes so every tensor's data is aligned in the file.
// The output is a sequence of chunks, one per tensor, so a large model is never assembled in one buffer;
// tensor data may be a function producing it on demand (e.g. a GPU readback) to keep one tensor in memory.

import { encodeBF16, encodeF16 } from '../num/half.js';
import {
  dtypeRank,
  dtypeSize,
  elementCount,
  HOST_IS_LITTLE_ENDIAN,
  isSafetensorsDtype,
  type SafetensorsDtype,
} from './dtypes.js';

export type TensorData = ArrayBufferView | (() => ArrayBufferView | Promise<ArrayBufferView>);

export interface TensorToWrite {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Raw little-endian element bytes; a Float32Array given for F16 or BF16 is narrowed as torch would. */
  readonly data: TensorData;
}

export interface EncodedSafetensors {
  /** Total file size in bytes. */
  readonly byteLength: number;
  /** The 8-byte length prefix and the padded JSON header. */
  readonly header: Uint8Array;
  /** Tensor names in the order their data is written. */
  readonly order: readonly string[];
  /** The header, then each tensor's data; an error names the tensor whose data is wrong. */
  chunks(): AsyncGenerator<Uint8Array>;
}

/** Plans a safetensors file; data supplied as functions is produced only while `chunks()` is iterated. */
export function encodeSafetensors(
  tensors: Readonly<Record<string, TensorToWrite>> | ReadonlyMap<string, TensorToWrite>,
  metadata?: Readonly<Record<string, string>>,
): EncodedSafetensors {
  if (!HOST_IS_LITTLE_ENDIAN) throw new Error('safetensors writing needs a little-endian host');
  const utf8 = new TextEncoder();
  const pairs: Iterable<[string, TensorToWrite]> = tensors instanceof Map ? tensors : Object.entries(tensors);
  const entries = [...pairs].map(([key, t]) => ({ key, t, utf8: utf8.encode(key) }));
  entries.sort((a, b) => dtypeRank(b.t.dtype) - dtypeRank(a.t.dtype) || compareBytes(a.utf8, b.utf8));

  const parts: string[] = [];
  if (metadata !== undefined) parts.push(`"__metadata__":${JSON.stringify(checkMetadata(metadata))}`);
  let offset = 0;
  const sizes: number[] = [];
  for (const { key, t } of entries) {
    if (!isSafetensorsDtype(t.dtype)) {
      throw new Error(`safetensors: tensor "${key}": unknown dtype ${t.dtype}`);
    }
    const size = dtypeSize(t.dtype);
    const count = elementCount(t.shape, size);
    if (count === undefined) {
      throw new Error(`safetensors: tensor "${key}": bad shape [${t.shape.join(', ')}]`);
    }
    const n = count * size;
    parts.push(
      `${JSON.stringify(key)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + n}]}`,
    );
    offset += n;
    sizes.push(n);
    if (typeof t.data !== 'function') checkLength(key, t, n, t.data); // fail early on data given up front
  }
  const json = utf8.encode(`{${parts.join(',')}}`);
  const padded = json.byteLength + ((8 - (json.byteLength % 8)) % 8);
  const header = new Uint8Array(8 + padded).fill(0x20, 8 + json.byteLength);
  new DataView(header.buffer).setUint32(0, padded, true); // high word stays 0: headers are < 4 GiB
  header.set(json, 8);

  return {
    byteLength: header.byteLength + offset,
    header,
    order: entries.map((e) => e.key),
    async *chunks() {
      yield header;
      for (let i = 0; i < entries.length; i++) {
        const { key, t } = entries[i];
        const data = typeof t.data === 'function' ? await t.data() : t.data;
        const bytes = tensorBytes(key, t, sizes[i], data);
        if (bytes.byteLength > 0) yield bytes;
      }
    },
  };
}

/** The whole file in one buffer, for small models and tests. */
export async function serializeSafetensors(
  tensors: Readonly<Record<string, TensorToWrite>> | ReadonlyMap<string, TensorToWrite>,
  metadata?: Readonly<Record<string, string>>,
): Promise<Uint8Array> {
  const encoded = encodeSafetensors(tensors, metadata);
  const out = new Uint8Array(encoded.byteLength);
  let at = 0;
  for await (const chunk of encoded.chunks()) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** Whether a Float32Array is to be narrowed on the way out rather than written as raw bytes. */
function narrows(t: TensorToWrite, data: ArrayBufferView): data is Float32Array {
  return data instanceof Float32Array && (t.dtype === 'F16' || t.dtype === 'BF16');
}

function checkLength(key: string, t: TensorToWrite, expected: number, data: ArrayBufferView): void {
  const n = narrows(t, data) ? data.length * 2 : data.byteLength;
  if (n !== expected) {
    const given = narrows(t, data) ? `${data.length} floats` : `${n} bytes of data`;
    throw new Error(
      `safetensors: tensor "${key}": ${given}, but ${t.dtype} [${t.shape.join(', ')}] needs ${expected} bytes`,
    );
  }
}

function tensorBytes(key: string, t: TensorToWrite, expected: number, data: ArrayBufferView): Uint8Array {
  checkLength(key, t, expected, data);
  const view = narrows(t, data) ? (t.dtype === 'F16' ? encodeF16(data) : encodeBF16(data)) : data;
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function checkMetadata(metadata: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new Error(`safetensors: metadata "${k}" must be a string`);
  }
  return metadata;
}

/** Rust's str ordering: by UTF-8 bytes (JavaScript's `<` compares UTF-16 units, which differs above U+FFFF). */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
