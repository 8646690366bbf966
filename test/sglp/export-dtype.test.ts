// The dtype side of the LLM export (src/sglp/export.ts, round-params.ts): which dtype each tensor is saved
// in, that unchanged tensors kept in their dtype come from the input's bytes (one read by key each, never
// the device), that others are read back and converted, config.json's dtype fields, and the rounding of
// fine-tuned tensors to the saved dtype against num/half's round-to-nearest-even.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { type PrunedModel, pruneModel } from '../../src/arch/prune.js';
import type { ModelDescription } from '../../src/arch/types.js';
import type { Gpu } from '../../src/gpu/device.js';
import type { Tensor } from '../../src/gpu/tensor.js';
import { validateModelConfig } from '../../src/io/config.js';
import type { SafetensorsDtype } from '../../src/io/dtypes.js';
import type { TensorInfo } from '../../src/io/safetensors.js';
import type { TensorToWrite } from '../../src/io/safetensors-write.js';
import { ParamStore } from '../../src/nn/params.js';
import { decodeBF16, decodeF16, encodeBF16, encodeF16 } from '../../src/num/half.js';
import {
  type InputTensors,
  parseSaveDtype,
  prunedHfConfigJson,
  prunedTensorsAs,
  savedDtype,
  savedDtypes,
} from '../../src/sglp/export.js';
import { roundToSaved } from '../../src/sglp/round-params.js';
import { useGpu } from '../helpers/gpu.js';
import { values } from '../helpers/reference.js';
import { tinyLlamaConfig } from '../helpers/tiny-llama.js';

const getGpu = useGpu();
let desc: ModelDescription;
let pruned: PrunedModel;

beforeAll(() => {
  desc = describeModel(validateModelConfig(tinyLlamaConfig({ layers: 4, tied: false, dtype: 'BF16' })));
  pruned = pruneModel(desc, [1]);
});

/** An input checkpoint of `dtype` tensors whose bytes() calls are recorded. */
function fakeInput(dtype: (key: string) => SafetensorsDtype) {
  const reads: string[] = [];
  const input: InputTensors = {
    name: 'in/model.safetensors',
    has: (k) => desc.params.some((p) => p.key === k),
    info: (k) => ({ dtype: dtype(k), shape: [], dataOffsets: [0, 0] }) as unknown as TensorInfo,
    bytes: async (k) => {
      reads.push(k);
      return new TextEncoder().encode(k);
    },
    float32: async (k) => {
      reads.push(`${k} as f32`);
      return Float32Array.of(2.5);
    },
  };
  return { input, reads };
}

/** A device source whose reads are recorded. */
function fakeSource() {
  const gets: string[] = [];
  const gpu = { readF32: async (t: Tensor) => t as unknown as Float32Array } as unknown as Gpu;
  return {
    gets,
    source: {
      gpu,
      get: (key: string) => {
        gets.push(key);
        return Float32Array.of(1.5) as unknown as Tensor;
      },
    },
  };
}

describe('save dtype', () => {
  it('parses --save-dtype and picks each tensor dtype', () => {
    expect(parseSaveDtype(undefined)).toBe('auto');
    expect(parseSaveDtype('bf16')).toBe('bf16');
    expect(() => parseSaveDtype('F16')).toThrow(/^saveDtype must be one of auto, f32, f16, bf16, got "F16"/);
    expect(savedDtype('auto', 'BF16', true)).toBe('BF16');
    expect(savedDtype('auto', 'F16', false)).toBe('F16');
    expect(savedDtype('auto', 'F64', true)).toBe('F64'); // copied as it is
    expect(savedDtype('auto', 'F64', false)).toBe('F32'); // changed values: f32 from the device
    expect(savedDtype('f32', 'BF16', true)).toBe('F32');
    expect(savedDtype('f16', 'F32', true)).toBe('F16');
    expect(savedDtype('bf16', 'F16', false)).toBe('BF16');
  });

  it('copies unchanged tensors kept in their dtype from the input, under the renumbered key', async () => {
    const { input, reads } = fakeInput(() => 'BF16');
    const { source, gets } = fakeSource();
    const tensors = prunedTensorsAs(pruned, source, { input, save: 'auto', unchanged: true });
    expect([...tensors.keys()]).toEqual(pruned.description.params.map((p) => p.key));
    const t = tensors.get('model.layers.1.mlp.up_proj.weight') as TensorToWrite;
    expect(t.dtype).toBe('BF16');
    expect(t.shape).toEqual([24, 16]);
    expect(reads).toEqual([]); // nothing read until the writer asks
    const data = await (t.data as () => Promise<Uint8Array>)();
    expect(new TextDecoder().decode(data)).toBe('model.layers.2.mlp.up_proj.weight');
    expect(reads).toEqual(['model.layers.2.mlp.up_proj.weight']);
    expect(gets).toEqual([]);
  });

  it('reads the device when values changed, and converts the input when only the dtype does', async () => {
    const key = 'model.layers.2.self_attn.q_proj.weight';
    for (const [save, unchanged] of [
      ['auto', false],
      ['f32', false],
      ['f32', true],
    ] as const) {
      const { input, reads } = fakeInput((k) => (k.includes('norm') ? 'F32' : 'BF16'));
      const { source, gets } = fakeSource();
      const tensors = prunedTensorsAs(pruned, source, { input, save, unchanged });
      const t = tensors.get(key) as TensorToWrite;
      expect(t.dtype).toBe(save === 'auto' ? 'BF16' : 'F32');
      // The device copy may be rounded (--precision f16): unchanged values always come from the input.
      const want = unchanged ? 2.5 : 1.5;
      expect(await (t.data as () => Promise<Float32Array>)()).toEqual(Float32Array.of(want));
      expect(gets).toEqual(unchanged ? [] : [key]);
      // Read under its input key: layer 3 of the input is layer 2 of the pruned model.
      expect(reads).toEqual(unchanged ? ['model.layers.3.self_attn.q_proj.weight as f32'] : []);
      expect(tensors.get('model.norm.weight')?.dtype).toBe('F32');
    }
    const { input } = fakeInput((k) => (k.includes('norm') ? 'F32' : 'F16'));
    const map = savedDtypes(pruned, { input, save: 'auto', unchanged: false });
    expect(map.get('model.embed_tokens.weight')).toBe('F16');
    expect(map.get('model.layers.0.input_layernorm.weight')).toBe('F32');
  });

  it('names a tensor the input lacks', () => {
    const { input } = fakeInput(() => 'BF16');
    const partial: InputTensors = { ...input, has: (k) => k !== 'model.layers.3.mlp.down_proj.weight' };
    expect(() =>
      prunedTensorsAs(pruned, fakeSource().source, { input: partial, save: 'auto', unchanged: true }),
    ).toThrow(
      /in\/model.safetensors has no tensor for "model.layers.2.mlp.down_proj.weight" \(from "model.layers.3.mlp.down_proj.weight"\)/,
    );
  });

  it('sets config.json dtype fields for an explicit save dtype only', () => {
    const cfg = (extra: Record<string, unknown>) => {
      const { torch_dtype: _, ...rest } = tinyLlamaConfig({ layers: 4, tied: false, dtype: 'BF16' });
      return JSON.stringify({ ...rest, ...extra });
    };
    const read = (text: string, save?: 'auto' | 'f32' | 'f16' | 'bf16') =>
      JSON.parse(prunedHfConfigJson(text, pruned, 'config.json', save));
    expect(read(cfg({ torch_dtype: 'bfloat16' })).torch_dtype).toBe('bfloat16');
    expect(read(cfg({ torch_dtype: 'bfloat16' }), 'auto').torch_dtype).toBe('bfloat16');
    expect(read(cfg({ torch_dtype: 'bfloat16' }), 'f32').torch_dtype).toBe('float32');
    const newer = read(cfg({ dtype: 'bfloat16' }), 'f16');
    expect([newer.dtype, 'torch_dtype' in newer]).toEqual(['float16', false]);
    const both = read(cfg({ dtype: 'float32', torch_dtype: 'float32' }), 'bf16');
    expect([both.dtype, both.torch_dtype]).toEqual(['bfloat16', 'bfloat16']);
    expect(read(cfg({}), 'f16').torch_dtype).toBe('float16');
    expect('torch_dtype' in read(cfg({}))).toBe(false);
  });
});

describe('roundToSaved', () => {
  let gpu: Gpu;
  let store: ParamStore;
  beforeAll(async () => {
    gpu = await getGpu();
    const arrays: Record<string, Float32Array> = {};
    desc.params.forEach((p, i) => {
      arrays[p.key] = values(
        p.shape.reduce((a, b) => a * b, 1),
        7 + i,
        3,
      );
    });
    store = ParamStore.fromArrays(gpu, desc, arrays);
  });
  afterAll(() => store?.dispose());

  it('rounds F16 and BF16 tensors to nearest even in place and leaves F32 ones', async () => {
    const before = await store.toArrays();
    const bf = 'model.layers.0.self_attn.q_proj.weight';
    const h = 'model.layers.1.mlp.gate_proj.weight';
    const f = 'model.layers.2.mlp.up_proj.weight';
    await roundToSaved(
      store,
      new Map<string, SafetensorsDtype>([
        [bf, 'BF16'],
        [h, 'F16'],
        [f, 'F32'],
      ]),
    );
    const after = await store.toArrays();
    expect(after[bf]).toEqual(decodeBF16(encodeBF16(before[bf])));
    expect(after[bf]).not.toEqual(before[bf]);
    expect(after[h]).toEqual(decodeF16(encodeF16(before[h])));
    expect(after[h]).not.toEqual(before[h]);
    expect(after[f]).toEqual(before[f]);
    expect(after['model.embed_tokens.weight']).toEqual(before['model.embed_tokens.weight']);
  });
});
