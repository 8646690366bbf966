// Reading safetensors files through a ByteSource: the header once, then each tensor's bytes on demand.

import { HOST_IS_LITTLE_ENDIAN } from './dtypes.js';
import { FormatError } from './errors.js';
import { headerLength, parseHeader, type TensorInfo } from './safetensors-header.js';
import type { ByteSource } from './source.js';
import { toFloat32, toInt32 } from './tensor-decode.js';

export type { SafetensorsHeader, TensorInfo } from './safetensors-header.js';

/** Named tensors read on demand: one safetensors file, or the shards of a checkpoint seen as one. */
export interface TensorStore {
  /** The file (or index file) name, for messages. */
  readonly name: string;
  /** The "__metadata__" map of the file (of the index: its "metadata", as strings). */
  readonly metadata: Readonly<Record<string, string>> | undefined;
  /** Tensor names, in data order for one file, in index order for shards. */
  keys(): string[];
  has(key: string): boolean;
  /** dtype, shape and offsets; throws a FormatError naming the key when it is absent. */
  info(key: string): TensorInfo;
  /** The tensor's raw little-endian bytes. */
  bytes(key: string): Promise<Uint8Array>;
  /** F32/F16/BF16/F64 as float32; with `expectShape`, a different shape is an error naming both. */
  float32(key: string, expectShape?: readonly number[]): Promise<Float32Array>;
  /** Integer tensors as int32 (64-bit values must fit). */
  int32(key: string, expectShape?: readonly number[]): Promise<Int32Array>;
  close(): Promise<void>;
}

/** Opens a safetensors file: reads and validates its header; tensors are read later, one at a time. */
export async function openSafetensors(source: ByteSource): Promise<SafetensorsFile> {
  if (!HOST_IS_LITTLE_ENDIAN) throw new Error('safetensors reading needs a little-endian host');
  const n = headerLength(await source.read(0, Math.min(8, source.size)), source.size, source.name);
  const header = parseHeader(await source.read(8, n), source.size, source.name);
  return new SafetensorsFile(source, header.dataStart, header.tensors, header.metadata);
}

export class SafetensorsFile implements TensorStore {
  readonly name: string;

  constructor(
    private readonly source: ByteSource,
    private readonly dataStart: number,
    private readonly tensors: ReadonlyMap<string, TensorInfo>,
    readonly metadata: Readonly<Record<string, string>> | undefined,
  ) {
    this.name = source.name;
  }

  keys(): string[] {
    return [...this.tensors.keys()].sort(
      (a, b) => this.info(a).dataOffsets[0] - this.info(b).dataOffsets[0] || (a < b ? -1 : a > b ? 1 : 0),
    );
  }

  has(key: string): boolean {
    return this.tensors.has(key);
  }

  info(key: string): TensorInfo {
    const info = this.tensors.get(key);
    if (!info) throw missingKey(this.name, key, this.tensors.size);
    return info;
  }

  async bytes(key: string): Promise<Uint8Array> {
    const [begin, end] = this.info(key).dataOffsets;
    return this.source.read(this.dataStart + begin, end - begin);
  }

  async float32(key: string, expectShape?: readonly number[]): Promise<Float32Array> {
    const info = this.checked(key, expectShape);
    return toFloat32(await this.bytes(key), info.dtype, this.name, key);
  }

  async int32(key: string, expectShape?: readonly number[]): Promise<Int32Array> {
    const info = this.checked(key, expectShape);
    return toInt32(await this.bytes(key), info.dtype, this.name, key);
  }

  async close(): Promise<void> {
    await this.source.close?.();
  }

  private checked(key: string, expectShape: readonly number[] | undefined): TensorInfo {
    const info = this.info(key);
    if (expectShape) checkShape(this.name, key, info.shape, expectShape);
    return info;
  }
}

export function missingKey(file: string, key: string, count: number): FormatError {
  return new FormatError(file, `not found among the ${count} tensors of this checkpoint`, key);
}

export function checkShape(
  file: string,
  key: string,
  actual: readonly number[],
  expected: readonly number[],
): void {
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    throw new FormatError(
      file,
      `shape [${actual.join(', ')}] in the file, expected [${expected.join(', ')}]`,
      key,
    );
  }
}
