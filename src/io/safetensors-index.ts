// Checkpoints split across shards the way Hugging Face writes them: `model.safetensors.index.json` holds
// {"metadata": {...}, "weight_map": {tensor key: shard file name}}. All shards are opened (headers only) and
// seen as one TensorStore; a model directory with a plain `model.safetensors` opens the same way.

import { FormatError } from './errors.js';
import {
  checkShape,
  missingKey,
  openSafetensors,
  type SafetensorsFile,
  type TensorStore,
} from './safetensors.js';
import type { TensorInfo } from './safetensors-header.js';
import { type DirectorySource, readText } from './source.js';

export const SAFETENSORS_FILE = 'model.safetensors';
export const SAFETENSORS_INDEX_FILE = 'model.safetensors.index.json';

/** Opens the weights of a model directory: `model.safetensors`, else the shards its index names (as transformers). */
export async function openCheckpoint(dir: DirectorySource): Promise<TensorStore> {
  if (await dir.has(SAFETENSORS_FILE)) return openSafetensors(await dir.open(SAFETENSORS_FILE));
  if (await dir.has(SAFETENSORS_INDEX_FILE)) return openSharded(dir);
  throw new FormatError(dir.name, `no ${SAFETENSORS_FILE} or ${SAFETENSORS_INDEX_FILE} in this directory`);
}

export interface ShardIndex {
  /** The index's own "metadata" (e.g. total_size), as written. */
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly weightMap: ReadonlyMap<string, string>;
}

/** Parses and checks an index file's text; shard names must be plain file names in the same directory. */
export function parseShardIndex(text: string, file: string): ShardIndex {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new FormatError(file, `not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(parsed)) throw new FormatError(file, 'expected a JSON object');
  const { metadata = {}, weight_map: map } = parsed;
  if (!isObject(metadata)) throw new FormatError(file, '"metadata" must be an object');
  if (!isObject(map)) {
    throw new FormatError(file, '"weight_map" must be an object of tensor key -> shard file');
  }
  const weightMap = new Map<string, string>();
  for (const [key, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || !isPlainFileName(shard)) {
      throw new FormatError(
        file,
        `weight_map value ${JSON.stringify(shard)} is not a file name in this directory`,
        key,
      );
    }
    weightMap.set(key, shard);
  }
  return { metadata, weightMap };
}

/** Opens every shard named by the index and checks that each listed key is in its shard. */
export async function openSharded(
  dir: DirectorySource,
  indexFile = SAFETENSORS_INDEX_FILE,
): Promise<ShardedCheckpoint> {
  const name = `${dir.name}/${indexFile}`;
  const index = parseShardIndex(await readText(dir, indexFile), name);
  const shards = new Map<string, SafetensorsFile>();
  try {
    for (const shard of new Set(index.weightMap.values())) {
      if (!(await dir.has(shard))) throw new FormatError(name, `shard ${shard} is listed but missing`);
      shards.set(shard, await openSafetensors(await dir.open(shard)));
    }
    for (const [key, shard] of index.weightMap) {
      const file = shards.get(shard);
      if (!file?.has(key)) {
        throw new FormatError(`${dir.name}/${shard}`, `listed in ${indexFile} but not in this shard`, key);
      }
    }
  } catch (err) {
    await Promise.all([...shards.values()].map((s) => s.close()));
    throw err;
  }
  return new ShardedCheckpoint(name, index, shards);
}

export class ShardedCheckpoint implements TensorStore {
  readonly metadata: Readonly<Record<string, string>> | undefined;

  constructor(
    readonly name: string,
    readonly index: ShardIndex,
    private readonly shards: ReadonlyMap<string, SafetensorsFile>,
  ) {
    // The shards' "__metadata__" (transformers writes {"format": "pt"} in each); the first one speaks for all.
    this.metadata = shards.values().next().value?.metadata;
  }

  keys(): string[] {
    return [...this.index.weightMap.keys()];
  }

  has(key: string): boolean {
    return this.index.weightMap.has(key);
  }

  info(key: string): TensorInfo {
    return this.shardOf(key).info(key);
  }

  async bytes(key: string): Promise<Uint8Array> {
    return this.shardOf(key).bytes(key);
  }

  async float32(key: string, expectShape?: readonly number[]): Promise<Float32Array> {
    if (expectShape) checkShape(this.name, key, this.info(key).shape, expectShape);
    return this.shardOf(key).float32(key);
  }

  async int32(key: string, expectShape?: readonly number[]): Promise<Int32Array> {
    if (expectShape) checkShape(this.name, key, this.info(key).shape, expectShape);
    return this.shardOf(key).int32(key);
  }

  async close(): Promise<void> {
    await Promise.all([...this.shards.values()].map((s) => s.close()));
  }

  private shardOf(key: string): SafetensorsFile {
    const shard = this.index.weightMap.get(key);
    const file = shard === undefined ? undefined : this.shards.get(shard);
    if (!file) throw missingKey(this.name, key, this.index.weightMap.size);
    return file;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPlainFileName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}
