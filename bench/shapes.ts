// Real-shape LLaMA-family checkpoints without downloads (issue 16, deliverable 1): a seeded generator of
// Hugging Face model directories at the exact shapes of public models (config.json, BF16 tensors sharded
// with model.safetensors.index.json as transformers' save_pretrained writes them, and a byte-level BPE
// tokenizer.json of the model's vocabulary size).
//
// The weights are random, so these models say nothing about quality: they measure cost (time, FLOPs),
// memory (device and host) and correctness (loaded vs streamed paths) at production sizes.
//
// Values: the projections take PyTorch's default Linear init, U(±1/√fan_in) for weights and biases, not
// Hugging Face's N(0, 0.02) (_init_weights), so that every decoder layer changes the residual stream (with
// 0.02 a deep model's layers are near-identity and CKA is ~1 everywhere, which exercises nothing); the
// embedding (and an untied LM head) are uniform with Hugging Face's standard deviation 0.02, so that the
// logits stay O(1) at every hidden size (unit variance gives logits of std √hidden: NLLs in the hundreds);
// RMSNorm weights are 1. Every tensor has its
// own stream, seeded from (seed, tensor name), so the values do not depend on the shard size, the tensor
// order or the chunking, and a layer of a 1B model is the same whether 2 or 16 layers are generated.
//
// Writing streams: each shard's header is planned first (encodeSafetensors with data never produced), then
// each tensor is generated and written in chunks of CHUNK_ELEMENTS, so host memory stays at one chunk.

import { type FileHandle, open, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeModel } from '../src/arch/describe.js';
import type { ParamSpec } from '../src/arch/types.js';
import { validateModelConfig } from '../src/io/config.js';
import type { SafetensorsDtype } from '../src/io/dtypes.js';
import { deriveSeed } from '../src/io/prng.js';
import { encodeSafetensors } from '../src/io/safetensors-write.js';
import { f32BitsToBF16, f32BitsToF16 } from '../src/num/half.js';

/** The fields of a shape that change tensor shapes or the forward pass; the rest of config.json is copied. */
export interface ShapeDims {
  readonly hidden: number;
  readonly intermediate: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly vocab: number;
  /** Written only when it differs from hidden / heads (as the real configs do). */
  readonly headDim?: number;
}

export interface ModelShape {
  /** The public model whose shapes these are. */
  readonly model: string;
  readonly dims: ShapeDims;
  /** Same structure (family, tying, biases, rope scaling, GQA ratio) at a few thousand parameters, for CI. */
  readonly tiny: ShapeDims;
  /** config.json without the dims (architectures, norms, rope, tying, token ids, dtype). */
  readonly config: Readonly<Record<string, unknown>>;
  /** Special tokens appended at the end of the vocabulary (the first is the BOS/EOS text). */
  readonly specials: readonly string[];
}

// Shapes as in each model's config.json on the Hugging Face hub (read 2025; transformers 4.4x field names).
export const SHAPES = {
  'smollm2-135m': {
    model: 'HuggingFaceTB/SmolLM2-135M',
    dims: { hidden: 576, intermediate: 1536, layers: 30, heads: 9, kvHeads: 3, vocab: 49152 },
    tiny: { hidden: 24, intermediate: 40, layers: 4, heads: 3, kvHeads: 1, vocab: 320 },
    config: {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      attention_bias: false,
      bos_token_id: 0,
      eos_token_id: 0,
      hidden_act: 'silu',
      max_position_embeddings: 8192,
      rms_norm_eps: 1e-5,
      rope_scaling: null,
      rope_theta: 100000,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
    },
    specials: ['<|endoftext|>', '<|im_start|>', '<|im_end|>'],
  },
  'qwen2.5-0.5b': {
    model: 'Qwen/Qwen2.5-0.5B',
    dims: { hidden: 896, intermediate: 4864, layers: 24, heads: 14, kvHeads: 2, vocab: 151936 },
    tiny: { hidden: 28, intermediate: 48, layers: 3, heads: 7, kvHeads: 1, vocab: 300 },
    config: {
      architectures: ['Qwen2ForCausalLM'],
      model_type: 'qwen2',
      bos_token_id: 151643,
      eos_token_id: 151643,
      hidden_act: 'silu',
      max_position_embeddings: 32768,
      max_window_layers: 24,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000,
      sliding_window: 32768,
      use_sliding_window: false,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
    },
    specials: ['<|endoftext|>', '<|im_start|>', '<|im_end|>'],
  },
  'llama-3.2-1b': {
    model: 'meta-llama/Llama-3.2-1B',
    dims: { hidden: 2048, intermediate: 8192, layers: 16, heads: 32, kvHeads: 8, vocab: 128256 },
    tiny: { hidden: 32, intermediate: 64, layers: 3, heads: 4, kvHeads: 1, vocab: 300 },
    config: {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      attention_bias: false,
      mlp_bias: false,
      bos_token_id: 128000,
      eos_token_id: 128001,
      hidden_act: 'silu',
      head_dim: 64,
      max_position_embeddings: 131072,
      rms_norm_eps: 1e-5,
      rope_scaling: {
        factor: 32.0,
        high_freq_factor: 4.0,
        low_freq_factor: 1.0,
        original_max_position_embeddings: 8192,
        rope_type: 'llama3',
      },
      rope_theta: 500000,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
    },
    specials: ['<|begin_of_text|>', '<|end_of_text|>'],
  },
  'llama-3.1-8b': {
    model: 'meta-llama/Llama-3.1-8B',
    dims: { hidden: 4096, intermediate: 14336, layers: 32, heads: 32, kvHeads: 8, vocab: 128256 },
    tiny: { hidden: 32, intermediate: 56, layers: 3, heads: 4, kvHeads: 1, vocab: 300 },
    config: {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      attention_bias: false,
      mlp_bias: false,
      bos_token_id: 128000,
      eos_token_id: 128001,
      hidden_act: 'silu',
      max_position_embeddings: 131072,
      rms_norm_eps: 1e-5,
      rope_scaling: {
        factor: 8.0,
        high_freq_factor: 4.0,
        low_freq_factor: 1.0,
        original_max_position_embeddings: 8192,
        rope_type: 'llama3',
      },
      rope_theta: 500000,
      tie_word_embeddings: false,
      torch_dtype: 'bfloat16',
    },
    specials: ['<|begin_of_text|>', '<|end_of_text|>'],
  },
  'mistral-7b': {
    model: 'mistralai/Mistral-7B-v0.3',
    dims: { hidden: 4096, intermediate: 14336, layers: 32, heads: 32, kvHeads: 8, vocab: 32768 },
    tiny: { hidden: 32, intermediate: 48, layers: 3, heads: 4, kvHeads: 1, vocab: 300 },
    config: {
      architectures: ['MistralForCausalLM'],
      model_type: 'mistral',
      bos_token_id: 1,
      eos_token_id: 2,
      hidden_act: 'silu',
      max_position_embeddings: 32768,
      rms_norm_eps: 1e-5,
      rope_theta: 1000000,
      sliding_window: null,
      tie_word_embeddings: false,
      torch_dtype: 'bfloat16',
    },
    specials: ['<unk>', '<s>', '</s>'],
  },
} as const satisfies Record<string, ModelShape>;

export type ShapeName = keyof typeof SHAPES;
export const SHAPE_NAMES = Object.keys(SHAPES) as ShapeName[];

/** transformers' default max_shard_size ("5GB", decimal). */
export const DEFAULT_MAX_SHARD_BYTES = 5e9;
/** Hugging Face's initializer_range: the embedding's and LM head's standard deviation. */
const EMBED_STD = 0.02;
/** Elements generated and written at a time: 8 MiB of BF16. */
const CHUNK_ELEMENTS = 1 << 22;

export interface GenerateOptions {
  readonly seed?: number;
  /** The tiny variant of the shape (CI). */
  readonly tiny?: boolean;
  /** Fewer decoder layers than the shape has (the first N; each layer's values are unchanged). */
  readonly layers?: number;
  readonly dtype?: Extract<SafetensorsDtype, 'BF16' | 'F16' | 'F32'>;
  /** Shards of at most this many bytes of tensor data, as save_pretrained; one file if it fits. */
  readonly maxShardBytes?: number;
  /** Always write model.safetensors.index.json and numbered shards, even when one shard holds all. */
  readonly forceIndex?: boolean;
}

const TORCH_DTYPE = { BF16: 'bfloat16', F16: 'float16', F32: 'float32' } as const;

/** config.json of a shape (dims applied; the loader's validation accepts it). */
export function shapeConfig(name: ShapeName, o: GenerateOptions = {}): Record<string, unknown> {
  const s: ModelShape = SHAPES[name];
  const d = o.tiny ? s.tiny : s.dims;
  const vocab = d.vocab;
  const cfg: Record<string, unknown> = {
    ...s.config,
    hidden_size: d.hidden,
    intermediate_size: d.intermediate,
    num_hidden_layers: o.layers ?? d.layers,
    num_attention_heads: d.heads,
    num_key_value_heads: d.kvHeads,
    vocab_size: vocab,
    torch_dtype: TORCH_DTYPE[o.dtype ?? 'BF16'],
    transformers_version: '4.46.0',
    sglp_synthetic: {
      note: 'random weights from bench/shapes.ts: measure cost, memory and correctness, not quality',
      shape_of: s.model,
      seed: o.seed ?? 0,
      ...(o.tiny ? { tiny: true } : {}),
    },
  };
  if (o.tiny) {
    // Tiny variants keep the structure, not the ids: token ids must stay inside the tiny vocabulary.
    for (const k of ['bos_token_id', 'eos_token_id']) if (k in cfg) cfg[k] = vocab - s.specials.length;
    if ('head_dim' in cfg) cfg.head_dim = d.hidden / d.heads;
  }
  if (o.layers !== undefined && (o.layers < 1 || o.layers > d.layers)) {
    throw new RangeError(`${name}: layers must be 1..${d.layers}, got ${o.layers}`);
  }
  return cfg;
}

/** Parameter count, tensor bytes and per-layer figures of a shape (what the cost model in RESULTS.md uses). */
export function shapeSummary(name: ShapeName, o: GenerateOptions = {}) {
  const desc = describeModel(validateModelConfig(shapeConfig(name, o)));
  const size = { BF16: 2, F16: 2, F32: 4 }[o.dtype ?? 'BF16'];
  const n = (p: ParamSpec) => p.shape.reduce((a, b) => a * b, 1);
  const layer0 = desc.units[0];
  return {
    params: desc.paramCount,
    bytes: desc.params.reduce((s, p) => s + n(p) * size, 0),
    layerParams: layer0.params,
    /** Multiply-adds per token of one decoder layer's seven projections (attention scores excluded). */
    layerMacsPerToken: layer0.macs,
    embedParams: desc.params[0] ? n(desc.params[0]) : 0,
    layers: desc.units.length,
  };
}

/** Tensor values, chunk by chunk, from the tensor's own stream (mulberry32, inlined for speed). */
export function fillTensor(key: string, shape: readonly number[], seed: number) {
  let state = deriveSeed(seed, ...hashName(key));
  const kind = key.endsWith('norm.weight') ? 'one' : 'uniform';
  // Linear [out, in]: U(±1/√in); a bias gets its weight's bound; embedding / LM head: std 0.02.
  const fanIn = key.endsWith('.bias') ? undefined : shape.length === 2 ? shape[1] : undefined;
  let bound: number;
  if (key.includes('embed_tokens') || key === 'lm_head.weight') bound = EMBED_STD * Math.sqrt(3);
  else if (fanIn !== undefined) bound = 1 / Math.sqrt(fanIn);
  else bound = 0; // set by the caller for biases (needs the weight's fan-in)
  return {
    kind,
    /** Fills `out` with the next out.length values (f32), as the same stream whatever the chunking. */
    next(out: Float32Array, biasBound?: number): void {
      if (kind === 'one') {
        out.fill(1);
        return;
      }
      const b = biasBound ?? bound;
      const scale = (2 * b) / 2 ** 32;
      for (let i = 0; i < out.length; i++) {
        state = (state + 0x6d2b79f5) | 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        out[i] = ((t ^ (t >>> 14)) >>> 0) * scale - b;
      }
    },
  };
}

/** A tensor name as 32-bit words, for deriveSeed (so each tensor has its own stream). */
function hashName(key: string): number[] {
  const bytes = new TextEncoder().encode(key);
  const words: number[] = [bytes.length];
  for (let i = 0; i < bytes.length; i += 4) {
    words.push((bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24)) >>> 0);
  }
  return words;
}

/** Encodes f32 values into `dtype` bytes (round to nearest even, as torch narrows). */
function encodeInto(values: Float32Array, dtype: 'BF16' | 'F16' | 'F32', out: Uint8Array): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const half = new Uint16Array(out.buffer, out.byteOffset, values.length);
  const f = dtype === 'BF16' ? f32BitsToBF16 : f32BitsToF16;
  for (let i = 0; i < values.length; i++) half[i] = f(bits[i]);
  return new Uint8Array(out.buffer, out.byteOffset, values.length * 2);
}

export interface GeneratedModel {
  readonly dir: string;
  readonly config: Record<string, unknown>;
  /** Shard file names (one: model.safetensors unless forceIndex). */
  readonly files: readonly string[];
  readonly params: number;
  readonly bytes: number;
}

/**
 * Writes the model directory: config.json, tokenizer.json, generation_config.json and the weights
 * (model.safetensors, or model-0000k-of-0000n.safetensors + model.safetensors.index.json). `dir` must exist.
 */
export async function generateModel(
  dir: string,
  name: ShapeName,
  o: GenerateOptions = {},
  onTensor?: (key: string, done: number, total: number) => void,
): Promise<GeneratedModel> {
  const dtype = o.dtype ?? 'BF16';
  const seed = o.seed ?? 0;
  const config = shapeConfig(name, o);
  const desc = describeModel(validateModelConfig(config));
  const size = dtype === 'F32' ? 4 : 2;
  const count = (p: ParamSpec) => p.shape.reduce((a, b) => a * b, 1);
  // Shards in state-dict order, filled greedily as save_pretrained does.
  const max = o.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
  const shards: ParamSpec[][] = [[]];
  let used = 0;
  for (const p of desc.params) {
    const b = count(p) * size;
    const cur = shards[shards.length - 1];
    if (cur.length > 0 && used + b > max) {
      shards.push([p]);
      used = b;
    } else {
      cur.push(p);
      used += b;
    }
  }
  const indexed = shards.length > 1 || (o.forceIndex ?? false);
  const n = shards.length;
  const files = indexed
    ? shards.map((_, i) => `model-${pad5(i + 1)}-of-${pad5(n)}.safetensors`)
    : ['model.safetensors'];
  const weightOf = new Map(desc.params.map((p) => [p.key, p]));
  const values = new Float32Array(CHUNK_ELEMENTS);
  const encoded = new Uint8Array(CHUNK_ELEMENTS * 2);
  let done = 0;
  let totalBytes = 0;
  for (const [si, shard] of shards.entries()) {
    const plan = encodeSafetensors(
      Object.fromEntries(shard.map((p) => [p.key, { dtype, shape: p.shape, data: () => new Uint8Array() }])),
      { format: 'pt' },
    );
    const path = join(dir, files[si]);
    const fh = await open(`${path}.partial`, 'w');
    try {
      await writeAll(fh, plan.header);
      for (const key of plan.order) {
        const p = weightOf.get(key) as ParamSpec;
        const gen = fillTensor(key, p.shape, seed);
        // A bias takes its projection weight's bound (PyTorch's Linear init).
        const w = key.endsWith('.bias') ? weightOf.get(key.replace(/\.bias$/, '.weight')) : undefined;
        const biasBound = w ? 1 / Math.sqrt(w.shape[1]) : undefined;
        let left = count(p);
        while (left > 0) {
          const m = Math.min(left, CHUNK_ELEMENTS);
          const v = values.subarray(0, m);
          gen.next(v, biasBound);
          await writeAll(fh, encodeInto(v, dtype, encoded));
          left -= m;
        }
        totalBytes += count(p) * size;
        onTensor?.(key, ++done, desc.params.length);
      }
    } finally {
      await fh.close();
    }
    await rename(`${path}.partial`, path);
  }
  if (indexed) {
    const weightMap: Record<string, string> = {};
    for (const [si, shard] of shards.entries()) for (const p of shard) weightMap[p.key] = files[si];
    const sorted = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : 1)));
    await writeFile(
      join(dir, 'model.safetensors.index.json'),
      `${JSON.stringify({ metadata: { total_size: totalBytes }, weight_map: sorted }, null, 2)}\n`,
    );
  }
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  await writeFile(join(dir, 'tokenizer.json'), bpeTokenizerJson(config.vocab_size as number, SHAPES[name]));
  const gen: Record<string, unknown> = { _from_model_config: true, transformers_version: '4.46.0' };
  for (const k of ['bos_token_id', 'eos_token_id']) if (k in config) gen[k] = config[k];
  await writeFile(join(dir, 'generation_config.json'), `${JSON.stringify(gen, null, 2)}\n`);
  return { dir, config, files, params: desc.paramCount, bytes: totalBytes };
}

async function writeAll(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  let at = 0;
  while (at < chunk.byteLength) at += (await fh.write(chunk, at, chunk.byteLength - at)).bytesWritten;
}

function pad5(i: number): string {
  return String(i).padStart(5, '0');
}

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to code points from 256 on. */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const out: string[] = new Array(256);
  bs.forEach((b, i) => {
    out[b] = String.fromCodePoint(cs[i]);
  });
  return out;
}

/**
 * A byte-level BPE tokenizer.json (GPT-2 / Llama 3 / Qwen2 style) with exactly `vocab` ids: the 256 byte
 * symbols (ids 0–255), generated merges, then `specials` as added special tokens at the top. The merges
 * enumerate pairs of existing tokens along a growing list seeded with frequent English characters, so common
 * text is merged into multi-byte tokens (encoding costs as with a real vocabulary) and every merge is valid.
 */
export function bpeTokenizerJson(vocab: number, shape: Pick<ModelShape, 'specials'>): string {
  const specials = shape.specials;
  const nMerges = vocab - 256 - specials.length;
  if (nMerges < 0) throw new RangeError(`a byte-level vocabulary needs >= ${256 + specials.length} ids`);
  const byteSym = bytesToUnicode();
  const ids = new Map<string, number>();
  byteSym.forEach((s, b) => {
    ids.set(s, b);
  });
  const order = 'Ġetaoinshrdlcumwfgypbvk.,'.split('').map((c) => (c === 'Ġ' ? byteSym[32] : c));
  const toks = [...order];
  const merges: string[] = [];
  // Diagonal enumeration over the growing list: pairs whose larger index is k, for k = 0, 1, ...
  for (let k = 0; merges.length < nMerges; k++) {
    if (k >= toks.length) throw new Error(`tokenizer: ran out of merges at ${merges.length} of ${nMerges}`);
    for (let i = 0; i <= k && merges.length < nMerges; i++) {
      for (const [a, b] of i === k
        ? [[toks[k], toks[k]]]
        : [
            [toks[i], toks[k]],
            [toks[k], toks[i]],
          ]) {
        if (merges.length >= nMerges) break;
        const m = a + b;
        // A space symbol only ever starts a pre-token: merges with one inside would never apply.
        if (ids.has(m) || m.lastIndexOf(byteSym[32]) > 0) continue;
        ids.set(m, ids.size);
        merges.push(`${a} ${b}`);
        toks.push(m);
      }
    }
  }
  const added = specials.map((content, i) => ({
    id: 256 + nMerges + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const vocabObj: Record<string, number> = Object.fromEntries(ids);
  for (const a of added) vocabObj[a.content] = a.id;
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: vocabObj,
      merges,
    },
  });
}
