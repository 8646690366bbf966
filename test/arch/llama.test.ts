import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { ArchError } from '../../src/arch/errors.js';
import { pruneModel } from '../../src/arch/prune.js';
import { validateModelConfig } from '../../src/io/config.js';

const tiny = (extra: Record<string, unknown> = {}) =>
  validateModelConfig({
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 3,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 37,
    rms_norm_eps: 1e-5,
    max_position_embeddings: 64,
    ...extra,
  });

describe('describeLlama', () => {
  it('lists Hugging Face keys in state_dict order with their shapes', () => {
    const d = describeModel(tiny());
    expect(d.architecture).toBe('llama');
    expect(d.units.map((u) => u.name)).toEqual(['model.layers.0', 'model.layers.1', 'model.layers.2']);
    expect(d.units.every((u) => !u.protected && u.kind === 'decoder')).toBe(true);
    expect(d.stem).toBeUndefined();
    expect(d.params.slice(0, 12).map((p) => `${p.key} ${p.shape.join('x')}`)).toEqual([
      'model.embed_tokens.weight 37x16',
      'model.layers.0.self_attn.q_proj.weight 16x16',
      'model.layers.0.self_attn.k_proj.weight 8x16',
      'model.layers.0.self_attn.v_proj.weight 8x16',
      'model.layers.0.self_attn.o_proj.weight 16x16',
      'model.layers.0.mlp.gate_proj.weight 24x16',
      'model.layers.0.mlp.up_proj.weight 24x16',
      'model.layers.0.mlp.down_proj.weight 16x24',
      'model.layers.0.input_layernorm.weight 16',
      'model.layers.0.post_attention_layernorm.weight 16',
      'model.layers.1.self_attn.q_proj.weight 16x16',
      'model.layers.1.self_attn.k_proj.weight 8x16',
    ]);
    expect(d.params.slice(-2).map((p) => p.key)).toEqual(['model.norm.weight', 'lm_head.weight']);
    const layer = 16 * 16 * 2 + 8 * 16 * 2 + 3 * 16 * 24 + 2 * 16;
    expect(d.units[1].params).toBe(layer);
    expect(d.paramCount).toBe(2 * 37 * 16 + 3 * layer + 16);
    expect(d.macs).toBe(3 * (layer - 2 * 16) + 37 * 16);
    expect(d.numClasses).toBe(37);
    expect(d.units[0].output).toEqual([16, 1, 1]);
  });

  it('ties lm_head to the embedding and adds Qwen2 q/k/v biases', () => {
    const d = describeModel(tiny({ architectures: ['Qwen2ForCausalLM'], tie_word_embeddings: true }));
    const keys = d.params.map((p) => p.key);
    expect(keys).not.toContain('lm_head.weight');
    expect(d.ignoredKeys).toContain('lm_head.weight');
    expect(d.net.family === 'llama' && d.net.head).toBe('model.embed_tokens.weight');
    expect(keys.slice(1, 8)).toEqual([
      'model.layers.0.self_attn.q_proj.weight',
      'model.layers.0.self_attn.q_proj.bias',
      'model.layers.0.self_attn.k_proj.weight',
      'model.layers.0.self_attn.k_proj.bias',
      'model.layers.0.self_attn.v_proj.weight',
      'model.layers.0.self_attn.v_proj.bias',
      'model.layers.0.self_attn.o_proj.weight',
    ]);
  });

  it('counts the parameters of published models', () => {
    // TinyLlama-1.1B (untied, GQA 32/4) and Qwen2-0.5B (tied, q/k/v biases, head_dim 64): the totals
    // `sum(p.numel() for p in model.parameters())` gives for them.
    const tinyLlama = describeModel(
      validateModelConfig({
        architectures: ['LlamaForCausalLM'],
        hidden_size: 2048,
        intermediate_size: 5632,
        num_hidden_layers: 22,
        num_attention_heads: 32,
        num_key_value_heads: 4,
        vocab_size: 32000,
        rms_norm_eps: 1e-5,
        max_position_embeddings: 2048,
      }),
    );
    expect(tinyLlama.paramCount).toBe(1_100_048_384);
    const qwen = describeModel(
      validateModelConfig({
        architectures: ['Qwen2ForCausalLM'],
        hidden_size: 896,
        intermediate_size: 4864,
        num_hidden_layers: 24,
        num_attention_heads: 14,
        num_key_value_heads: 2,
        vocab_size: 151936,
        rms_norm_eps: 1e-6,
        max_position_embeddings: 32768,
        tie_word_embeddings: true,
      }),
    );
    expect(qwen.paramCount).toBe(494_032_768);
  });
});

describe('pruneModel (llama)', () => {
  it('drops layers, renumbers the rest and updates num_hidden_layers', () => {
    const d = describeModel(tiny({ rope_scaling: null }));
    const p = pruneModel(d, [1]);
    expect(p.config).toMatchObject({ num_hidden_layers: 2, architectures: ['LlamaForCausalLM'] });
    expect(p.config).not.toHaveProperty('kind');
    expect(p.config).not.toHaveProperty('bias');
    expect(p.kept).toEqual([0, 2]);
    expect(p.keyMap.get('model.layers.2.mlp.down_proj.weight')).toBe('model.layers.1.mlp.down_proj.weight');
    expect(p.keyMap.get('model.layers.0.input_layernorm.weight')).toBe(
      'model.layers.0.input_layernorm.weight',
    );
    expect(p.keyMap.has('model.layers.1.mlp.down_proj.weight')).toBe(false);
    expect(p.keyMap.get('lm_head.weight')).toBe('lm_head.weight');
    expect(p.description.paramCount).toBe(d.paramCount - d.units[1].params);
    // Every tensor of the pruned model comes from exactly one tensor of the original.
    expect([...p.keyMap.values()].sort()).toEqual(
      [...p.description.params.map((q) => q.key), ...p.description.ignoredKeys].sort(),
    );
    // The written config validates and describes the same pruned model again.
    const again = describeModel(validateModelConfig(JSON.parse(JSON.stringify(p.config))));
    expect(again.params).toEqual(p.description.params);
  });

  it('refuses to remove every layer', () => {
    const d = describeModel(tiny());
    expect(() => pruneModel(d, [0, 1, 2])).toThrow(ArchError);
    expect(() => pruneModel(d, [0, 1, 2])).toThrow('cannot remove all 3 decoder layers');
  });
});
