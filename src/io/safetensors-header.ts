// Parsing and checking a safetensors header: 8-byte little-endian length N, then N bytes of UTF-8 JSON
// mapping each tensor name to {dtype, shape, data_offsets} (offsets relative to the data that follows the
// header), plus an optional "__metadata__" string map. Every check names the file and, where it applies,
// the tensor, because these files come from elsewhere and a bad one should say what is wrong with it.

import {
  dtypeSize,
  elementCount,
  isSafetensorsDtype,
  SAFETENSORS_DTYPES,
  type SafetensorsDtype,
} from './dtypes.js';
import { FormatError } from './errors.js';

/** The reference implementation refuses headers above 100 MB; so do we (nothing real comes near it). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Byte offsets [begin, end) into the data section. */
  readonly dataOffsets: readonly [number, number];
}

export interface SafetensorsHeader {
  /** Where the data section starts in the file: 8 + header length. */
  readonly dataStart: number;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Readonly<Record<string, string>> | undefined;
}

/** The header length from the first 8 bytes, checked against the file size. */
export function headerLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8) {
    throw new FormatError(file, `file is ${fileSize} bytes, too short for a safetensors header`);
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const high = view.getUint32(4, true);
  const n = high * 2 ** 32 + view.getUint32(0, true);
  if (high !== 0 || n > MAX_HEADER_BYTES) {
    throw new FormatError(
      file,
      `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`,
    );
  }
  if (n < 2) throw new FormatError(file, `header length ${n} is too small for a JSON object`);
  if (8 + n > fileSize) {
    throw new FormatError(
      file,
      `header length ${n} runs past the end of the ${fileSize}-byte file (truncated?)`,
    );
  }
  return n;
}

/** Parses and validates the JSON header bytes (without the 8-byte prefix) of a file of `fileSize` bytes. */
export function parseHeader(json: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  const dataStart = 8 + json.byteLength;
  const dataSize = fileSize - dataStart;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(json);
  } catch {
    throw new FormatError(file, 'header is not valid UTF-8');
  }
  if (!text.startsWith('{')) {
    throw new FormatError(file, 'header does not start with "{" (not a safetensors file?)');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new FormatError(file, `header is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new FormatError(file, 'header is not a JSON object');
  }

  let metadata: Record<string, string> | undefined;
  const tensors = new Map<string, TensorInfo>();
  for (const [key, value] of Object.entries(parsed)) {
    if (key === '__metadata__') metadata = checkMetadata(value, file);
    else tensors.set(key, checkTensor(key, value, dataSize, file));
  }
  checkOverlaps(tensors, file);
  return { dataStart, tensors, metadata };
}

function checkMetadata(value: unknown, file: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FormatError(file, '"__metadata__" must be an object of strings');
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw new FormatError(file, `"__metadata__"."${k}" must be a string, got ${show(v)}`);
    }
  }
  return value as Record<string, string>;
}

function checkTensor(key: string, value: unknown, dataSize: number, file: string): TensorInfo {
  const fail = (message: string): never => {
    throw new FormatError(file, message, key);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(`entry must be an object with dtype, shape and data_offsets, got ${show(value)}`);
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (!isSafetensorsDtype(dtype)) {
    fail(`unknown dtype ${show(dtype)} (known: ${SAFETENSORS_DTYPES.join(', ')})`);
  }
  const size = dtypeSize(dtype as SafetensorsDtype);
  if (!Array.isArray(shape)) fail(`shape must be an array of non-negative integers, got ${show(shape)}`);
  const count = elementCount(shape as unknown[], size);
  if (count === undefined) fail(`shape ${show(shape)} is not an array of non-negative integers of safe size`);
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
  ) {
    fail(`data_offsets must be [begin, end] with non-negative integers, got ${show(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) fail(`data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataSize) {
    fail(`data_offsets [${begin}, ${end}] run past the ${dataSize}-byte data section (truncated file?)`);
  }
  const expected = (count as number) * size;
  if (end - begin !== expected) {
    fail(
      `data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${dtype} ${show(shape)} needs ${expected}`,
    );
  }
  return { dtype: dtype as SafetensorsDtype, shape: shape as number[], dataOffsets: [begin, end] };
}

/** Two tensors sharing bytes would alias each other's storage: refuse, naming both. Empty tensors own nothing. */
function checkOverlaps(tensors: Map<string, TensorInfo>, file: string): void {
  const spans = [...tensors].filter(([, t]) => t.dataOffsets[1] > t.dataOffsets[0]);
  spans.sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0]);
  for (let i = 1; i < spans.length; i++) {
    const [prevKey, prev] = spans[i - 1];
    const [key, cur] = spans[i];
    if (cur.dataOffsets[0] < prev.dataOffsets[1]) {
      throw new FormatError(
        file,
        `data_offsets [${cur.dataOffsets.join(', ')}] overlap those of "${prevKey}" [${prev.dataOffsets.join(', ')}]`,
        key,
      );
    }
  }
}

function show(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
