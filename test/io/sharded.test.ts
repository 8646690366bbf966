import { describe, expect, it } from 'vitest';
import {
  openCheckpoint,
  openSharded,
  parseShardIndex,
  ShardedCheckpoint,
} from '../../src/io/safetensors-index.js';
import { serializeSafetensors } from '../../src/io/safetensors-write.js';
import { memoryDirectory } from '../../src/io/source.js';

const enc = (s: unknown) => new TextEncoder().encode(JSON.stringify(s));

async function shardedFiles() {
  const a = await serializeSafetensors(
    {
      'model.embed_tokens.weight': {
        dtype: 'BF16',
        shape: [4, 2],
        data: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]),
      },
      'model.layers.0.self_attn.q_proj.weight': {
        dtype: 'F16',
        shape: [2, 2],
        data: new Float32Array([1, -1, 0.5, 2]),
      },
    },
    { format: 'pt' },
  );
  const b = await serializeSafetensors(
    {
      'model.norm.weight': { dtype: 'F32', shape: [2], data: new Float32Array([1, 1]) },
      'lm_head.weight': { dtype: 'F32', shape: [4, 2], data: new Float32Array(8).fill(0.25) },
    },
    { format: 'pt' },
  );
  const index = {
    metadata: { total_size: 56 },
    weight_map: {
      'lm_head.weight': 'model-00002-of-00002.safetensors',
      'model.embed_tokens.weight': 'model-00001-of-00002.safetensors',
      'model.layers.0.self_attn.q_proj.weight': 'model-00001-of-00002.safetensors',
      'model.norm.weight': 'model-00002-of-00002.safetensors',
    },
  };
  return {
    'model-00001-of-00002.safetensors': a,
    'model-00002-of-00002.safetensors': b,
    'model.safetensors.index.json': enc(index),
  } as Record<string, Uint8Array>;
}

describe('sharded checkpoints', () => {
  it('opens all shards of an index and looks up any key', async () => {
    const store = await openCheckpoint(memoryDirectory(await shardedFiles(), 'llama'));
    expect(store).toBeInstanceOf(ShardedCheckpoint);
    expect(store.keys().length).toBe(4);
    expect(store.metadata).toEqual({ format: 'pt' });
    expect((store as ShardedCheckpoint).index.metadata).toEqual({ total_size: 56 });
    expect(Array.from(await store.float32('model.embed_tokens.weight', [4, 2]))).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8,
    ]);
    expect(Array.from(await store.float32('model.layers.0.self_attn.q_proj.weight'))).toEqual([
      1, -1, 0.5, 2,
    ]);
    expect(Array.from(await store.float32('lm_head.weight'))).toEqual(new Array(8).fill(0.25));
    expect(store.info('model.norm.weight').dtype).toBe('F32');
    expect(() => store.info('model.layers.1.mlp.up_proj.weight')).toThrow(
      'llama/model.safetensors.index.json: tensor "model.layers.1.mlp.up_proj.weight": not found among the 4 tensors',
    );
    await expect(store.float32('model.norm.weight', [3])).rejects.toThrow(
      'shape [2] in the file, expected [3]',
    );
    await store.close();
  });

  it('prefers a single model.safetensors, as transformers does', async () => {
    const files = await shardedFiles();
    files['model.safetensors'] = files['model-00002-of-00002.safetensors'];
    const store = await openCheckpoint(memoryDirectory(files, 'm'));
    expect(store.keys()).toEqual(['lm_head.weight', 'model.norm.weight']);
  });

  it('names what is missing', async () => {
    await expect(openCheckpoint(memoryDirectory({}, 'empty'))).rejects.toThrow(
      'empty: no model.safetensors or model.safetensors.index.json in this directory',
    );
    const files = await shardedFiles();
    delete files['model-00002-of-00002.safetensors'];
    await expect(openSharded(memoryDirectory(files, 'm'))).rejects.toThrow(
      'm/model.safetensors.index.json: shard model-00002-of-00002.safetensors is listed but missing',
    );
    const lying = await shardedFiles();
    lying['model.safetensors.index.json'] = enc({
      weight_map: { 'extra.weight': 'model-00001-of-00002.safetensors' },
    });
    await expect(openSharded(memoryDirectory(lying, 'm'))).rejects.toThrow(
      'm/model-00001-of-00002.safetensors: tensor "extra.weight": listed in model.safetensors.index.json but not in this shard',
    );
  });

  it('refuses index files that are malformed or point outside the directory', () => {
    expect(() => parseShardIndex('{', 'i.json')).toThrow('i.json: not valid JSON');
    expect(() => parseShardIndex('{"weight_map": []}', 'i.json')).toThrow(
      'i.json: "weight_map" must be an object',
    );
    expect(() => parseShardIndex('{"weight_map": {"w": "../secret.safetensors"}}', 'i.json')).toThrow(
      'i.json: tensor "w": weight_map value "../secret.safetensors" is not a file name in this directory',
    );
    expect(() => parseShardIndex('{"weight_map": {"w": 3}}', 'i.json')).toThrow('weight_map value 3');
  });
});
