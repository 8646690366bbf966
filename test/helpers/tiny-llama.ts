// A tiny random LlamaForCausalLM directory (byte-level: no tokenizer.json, vocabulary 256) written in a
// chosen dtype, and a small text corpus, for the LLM export and fine-tuning command tests.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeModel } from '../../src/arch/describe.js';
import type { PruneCliOptions } from '../../src/cli/prune-common.js';
import { validateModelConfig } from '../../src/io/config.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import { openFileSource, writeSafetensorsFile } from '../../src/node/files.js';
import { values } from './reference.js';

export const TINY_LLAMA_TEXT =
  'The quick brown fox jumps over the lazy dog. Then the dog wakes up and chases the fox around the ' +
  'yard, while the cat watches from the fence and thinks about the hello of it all. Hello there, said ' +
  'the fox to the hen; the hen said nothing at all and went on pecking at the ground by the well. ';

const TORCH_NAME = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' } as const;

export function tinyLlamaConfig(o: { layers: number; tied: boolean; dtype: keyof typeof TORCH_NAME }) {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: o.layers,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 256,
    rms_norm_eps: 1e-5,
    max_position_embeddings: 64,
    rope_theta: 10000,
    tie_word_embeddings: o.tied,
    torch_dtype: TORCH_NAME[o.dtype],
    transformers_version: '4.44.0',
  };
}

/** Writes config.json + model.safetensors (every tensor in `dtype`, narrowed as torch would) to `dir`. */
export async function writeTinyLlama(
  dir: string,
  o: { layers: number; tied: boolean; dtype: keyof typeof TORCH_NAME; seed: number },
): Promise<ReturnType<typeof tinyLlamaConfig>> {
  await mkdir(dir, { recursive: true });
  const cfg = tinyLlamaConfig(o);
  await writeFile(join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
  const d = describeModel(validateModelConfig(cfg));
  const tensors = Object.fromEntries(
    d.params.map((p, i) => {
      const v = values(
        p.shape.reduce((a, b) => a * b, 1),
        o.seed + i,
        0.4,
      );
      const data = p.key.endsWith('norm.weight') ? v.map((x) => 1 + x / 2) : v;
      return [p.key, { dtype: o.dtype, shape: p.shape, data }];
    }),
  );
  await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  return cfg;
}

/** Every tensor of a safetensors file: dtype, shape and raw bytes. */
export async function readRawTensors(
  file: string,
): Promise<Map<string, { dtype: string; shape: readonly number[]; bytes: Uint8Array }>> {
  const src = await openFileSource(file);
  try {
    const st = await openSafetensors(src);
    const out = new Map<string, { dtype: string; shape: readonly number[]; bytes: Uint8Array }>();
    for (const k of st.keys()) {
      const info = st.info(k);
      out.set(k, { dtype: info.dtype, shape: info.shape, bytes: await st.bytes(k) });
    }
    return out;
  } finally {
    await src.close?.();
  }
}

/** A reduced prune protocol that fits a tiny corpus: 8 calibration windows, 2 GradNorm batches of 2. */
export function tinyTextPrune(
  corpus: string,
  seqLen: number,
  out: string,
  extra: Partial<PruneCliOptions> = {},
): PruneCliOptions {
  return {
    data: `text:${corpus}`,
    seqLen,
    samples: 8,
    batch: 4,
    gradnormBatches: 2,
    gradnormBatchSize: 2,
    segments: 2,
    remove: 2,
    out,
    ...extra,
  };
}
