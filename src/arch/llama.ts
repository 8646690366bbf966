// LLaMA-family decoder LMs (Hugging Face LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM) as data:
// token embedding, decoder layers `model.layers.{i}` (the units of docs/method.md §0, none protected: every layer
// maps [tokens, hidden] to [tokens, hidden]), final RMSNorm, `lm_head` (or the embedding, tied).
//
// Shapes in UnitSpec / DescriptionBase are per token row: [hidden_size, 1, 1], so that a representation
// has hidden_size columns per row (docs/method.md §1) like a CNN's C·H·W; numClasses is the vocabulary.
// MACs follow layers.ts (one per weight use): the seven projections per layer and the LM head, per token.
// Attention's QKᵀ and PV products (2·Hq·D per visible key) depend on the context length and are left out.

import type { LlmConfig } from '../io/config.js';
import { countParams } from './layers.js';
import type { ModelDescription, ParamSpec, Shape3, UnitSpec } from './types.js';

/** One projection of a decoder layer: `<name>.weight` [out, in], `<name>.bias` [out] when `bias`. */
export interface ProjectionSpec {
  readonly name: string;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly bias: boolean;
}

export interface DecoderLayerSpec {
  /** `model.layers.{i}`. */
  readonly name: string;
  /** Its index in ModelDescription.units (equal to i: layers are renumbered when pruned). */
  readonly unit: number;
  readonly q: ProjectionSpec;
  readonly k: ProjectionSpec;
  readonly v: ProjectionSpec;
  readonly o: ProjectionSpec;
  readonly gate: ProjectionSpec;
  readonly up: ProjectionSpec;
  readonly down: ProjectionSpec;
  /** RMSNorm weights [hidden]: before attention, before the MLP. */
  readonly inputNorm: string;
  readonly postAttentionNorm: string;
}

export interface LlamaNet {
  readonly family: 'llama';
  readonly hidden: number;
  readonly intermediate: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly vocab: number;
  readonly eps: number;
  readonly ropeTheta: number;
  readonly ropeScaling: LlmConfig['rope_scaling'];
  /** lm_head shares the embedding's tensor (no `lm_head.weight` in the checkpoint). */
  readonly tied: boolean;
  readonly embed: string;
  readonly layers: readonly DecoderLayerSpec[];
  readonly norm: string;
  /** The LM head's weight key: `lm_head.weight`, or the embedding's when tied. */
  readonly head: string;
}

function proj(name: string, inFeatures: number, outFeatures: number, bias: boolean): ProjectionSpec {
  return { name, inFeatures, outFeatures, bias };
}

function projParams(p: ProjectionSpec): ParamSpec[] {
  const w: ParamSpec = { key: `${p.name}.weight`, shape: [p.outFeatures, p.inFeatures], kind: 'weight' };
  return p.bias ? [w, { key: `${p.name}.bias`, shape: [p.outFeatures], kind: 'bias' }] : [w];
}

/** The seven projections of a layer in Hugging Face's registration (state_dict) order. */
export function layerProjections(l: DecoderLayerSpec): ProjectionSpec[] {
  return [l.q, l.k, l.v, l.o, l.gate, l.up, l.down];
}

function decoderLayer(c: LlmConfig, i: number): DecoderLayerSpec {
  const name = `model.layers.${i}`;
  const h = c.hidden_size;
  const qd = c.num_attention_heads * c.head_dim;
  const kvd = c.num_key_value_heads * c.head_dim;
  const a = `${name}.self_attn`;
  const m = `${name}.mlp`;
  return {
    name,
    unit: i,
    q: proj(`${a}.q_proj`, h, qd, c.bias.qkv),
    k: proj(`${a}.k_proj`, h, kvd, c.bias.qkv),
    v: proj(`${a}.v_proj`, h, kvd, c.bias.qkv),
    o: proj(`${a}.o_proj`, qd, h, c.bias.o),
    gate: proj(`${m}.gate_proj`, h, c.intermediate_size, c.bias.mlp),
    up: proj(`${m}.up_proj`, h, c.intermediate_size, c.bias.mlp),
    down: proj(`${m}.down_proj`, c.intermediate_size, h, c.bias.mlp),
    inputNorm: `${name}.input_layernorm.weight`,
    postAttentionNorm: `${name}.post_attention_layernorm.weight`,
  };
}

function family(c: LlmConfig): string {
  return { llama: 'Llama', mistral: 'Mistral', qwen2: 'Qwen2' }[c.family];
}

export function describeLlama(config: LlmConfig): ModelDescription {
  const h = config.hidden_size;
  const row: Shape3 = [h, 1, 1];
  const layers = Array.from({ length: config.num_hidden_layers }, (_, i) => decoderLayer(config, i));
  const embed: ParamSpec = {
    key: 'model.embed_tokens.weight',
    shape: [config.vocab_size, h],
    kind: 'weight',
  };
  const layerParams = layers.map((l): ParamSpec[] => [
    ...layerProjections(l).flatMap(projParams),
    { key: l.inputNorm, shape: [h], kind: 'weight' },
    { key: l.postAttentionNorm, shape: [h], kind: 'weight' },
  ]);
  const units: UnitSpec[] = layers.map((l, i) => {
    const params = layerParams[i];
    return {
      index: l.unit,
      name: l.name,
      kind: 'decoder',
      stage: 1,
      protected: false,
      input: row,
      output: row,
      params: countParams(params),
      macs: layerProjections(l).reduce((n, p) => n + p.inFeatures * p.outFeatures, 0),
      keys: params.map((p) => p.key),
      // Written by transformers before 4.31 as a buffer; recomputed from the config, never read.
      ignoredKeys: [`${l.name}.self_attn.rotary_emb.inv_freq`],
    };
  });
  const norm: ParamSpec = { key: 'model.norm.weight', shape: [h], kind: 'weight' };
  const tied = config.tie_word_embeddings;
  const lmHead: ParamSpec = { key: 'lm_head.weight', shape: [config.vocab_size, h], kind: 'weight' };
  const params = [embed, ...layerParams.flat(), norm, ...(tied ? [] : [lmHead])];
  const net: LlamaNet = {
    family: 'llama',
    hidden: h,
    intermediate: config.intermediate_size,
    heads: config.num_attention_heads,
    kvHeads: config.num_key_value_heads,
    headDim: config.head_dim,
    vocab: config.vocab_size,
    eps: config.rms_norm_eps,
    ropeTheta: config.rope_theta,
    ropeScaling: config.rope_scaling,
    tied,
    embed: embed.key,
    layers,
    norm: norm.key,
    head: tied ? embed.key : lmHead.key,
  };
  const n = config.num_hidden_layers;
  return {
    architecture: 'llama',
    name: `${family(config)} ${n}-layer (hidden ${h}, ${config.architecture})`,
    config,
    net,
    input: row,
    numClasses: config.vocab_size,
    units,
    stem: undefined,
    params,
    // A tied checkpoint may still carry lm_head.weight (the same values); it is not read.
    ignoredKeys: [...units.flatMap((u) => u.ignoredKeys), ...(tied ? [lmHead.key] : [])],
    paramCount: countParams(params),
    macs: units.reduce((s, u) => s + u.macs, 0) + h * config.vocab_size,
  };
}
