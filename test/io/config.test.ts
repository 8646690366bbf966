import { describe, expect, it } from 'vitest';
import { parseModelConfig, readModelConfig, validateModelConfig } from '../../src/io/config.js';
import { ConfigError } from '../../src/io/errors.js';
import { memoryDirectory } from '../../src/io/source.js';

const resnet56 = {
  architecture: 'cifar-resnet',
  depth: 56,
  in_channels: 1,
  num_classes: 10,
  shortcut: 'A',
  input_size: [1, 28, 28],
  normalize: { mean: [0.286], std: [0.353] },
};

const llama = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 2048,
  intermediate_size: 8192,
  num_hidden_layers: 16,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  rope_scaling: {
    factor: 32,
    high_freq_factor: 4,
    low_freq_factor: 1,
    original_max_position_embeddings: 8192,
    rope_type: 'llama3',
  },
  vocab_size: 128256,
  tie_word_embeddings: true,
  max_position_embeddings: 131072,
  torch_dtype: 'bfloat16',
  bos_token_id: 128000,
  eos_token_id: [128001, 128008],
  use_cache: true,
};

/** The error message of validating `config` as "m/config.json". */
function problems(config: unknown): string {
  try {
    validateModelConfig(config, 'm/config.json');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the config to be rejected');
}

describe('CNN configs', () => {
  it('accepts the DESIGN.md example and fills in the blocks per stage', () => {
    const c = parseModelConfig(JSON.stringify(resnet56));
    expect(c).toMatchObject({
      kind: 'cnn',
      architecture: 'cifar-resnet',
      depth: 56,
      shortcut: 'A',
      blocks: [9, 9, 9],
    });
  });

  it('accepts torchvision ResNets and CIFAR VGG-BN with their layer lists', () => {
    const common = {
      in_channels: 3,
      num_classes: 1000,
      input_size: [3, 224, 224],
      normalize: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
    };
    expect(validateModelConfig({ architecture: 'resnet', depth: 50, ...common })).toMatchObject({
      blocks: [3, 4, 6, 3],
    });
    expect(validateModelConfig({ architecture: 'resnet', depth: 101, ...common })).toMatchObject({
      blocks: [3, 4, 23, 3],
    });
    const vgg = validateModelConfig({
      architecture: 'vgg',
      depth: 16,
      ...common,
      num_classes: 10,
      input_size: [3, 32, 32],
    });
    expect(vgg).toMatchObject({ batch_norm: true });
    expect(
      vgg.kind === 'cnn' && vgg.architecture === 'vgg' && vgg.layers.filter((l) => l !== 'M').length,
    ).toBe(13);
  });

  it('accepts pruned configs within the original depth', () => {
    expect(validateModelConfig({ ...resnet56, blocks: [0, 5, 9] })).toMatchObject({ blocks: [0, 5, 9] });
    expect(problems({ ...resnet56, blocks: [10, 0, 9] })).toBe(
      'm/config.json:\n  - field "blocks[0]": is 10, more than the 9 of this depth\n' +
        '  - field "blocks[1]": must be at least 1: the first block of this stage changes shape',
    );
  });

  it('names each bad field with what was expected and found', () => {
    expect(problems({ ...resnet56, depth: 57 })).toBe(
      'm/config.json: field "depth": expected one of 20, 32, 44, 56, 110, got 57',
    );
    expect(problems({ ...resnet56, shortcut: 'C' })).toBe(
      'm/config.json: field "shortcut": expected one of "A", "B", got "C"',
    );
    const { num_classes: _, ...noClasses } = resnet56;
    expect(problems(noClasses)).toBe('m/config.json: field "num_classes": missing (expected number)');
    expect(problems({ ...resnet56, in_channels: 1.5 })).toBe(
      'm/config.json: field "in_channels": expected an integer, got 1.5',
    );
    expect(problems({ ...resnet56, normalize: { mean: [0.2, 'x'], std: [0.3] } })).toBe(
      'm/config.json: field "normalize.mean[1]": expected number, got "x"',
    );
    expect(problems({ ...resnet56, input_size: [1, 28] })).toMatch(
      /field "input_size": expected array to have >=3 items, got \[1,28\]/,
    );
  });

  it('checks that input size and normalisation agree with in_channels', () => {
    expect(problems({ ...resnet56, in_channels: 3 })).toBe(
      'm/config.json:\n  - field "input_size[0]": is 1, but in_channels is 3\n' +
        '  - field "normalize.mean": has 1 value, expected one per input channel (3)\n' +
        '  - field "normalize.std": has 1 value, expected one per input channel (3)',
    );
    expect(problems({ ...resnet56, normalize: { mean: [0.2], std: [0] } })).toMatch(
      'field "normalize.std[0]": expected number to be >0, got 0',
    );
  });

  it('refuses VGG without batch norm and VGG layer lists that drop pools', () => {
    const vgg = { ...resnet56, architecture: 'vgg', depth: 11, shortcut: undefined };
    expect(problems({ ...vgg, batch_norm: false })).toBe(
      'm/config.json: field "batch_norm": expected true, got false',
    );
    expect(problems({ ...vgg, layers: [64, 'M', 128] })).toBe(
      'm/config.json: field "layers": has 1 "M" pools, expected 5',
    );
  });
});

describe('LLM configs', () => {
  it('accepts a Llama 3.2 config, with the llama3 RoPE scaling and derived head_dim', () => {
    const c = validateModelConfig(llama);
    expect(c).toMatchObject({
      kind: 'llm',
      architecture: 'LlamaForCausalLM',
      family: 'llama',
      head_dim: 64,
      num_key_value_heads: 8,
      tie_word_embeddings: true,
      rope_scaling: {
        rope_type: 'llama3',
        factor: 32,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 8192,
      },
      bias: { qkv: false, o: false, mlp: false },
      torch_dtype: 'bfloat16',
    });
  });

  it('fills transformers defaults and knows Qwen2 biases and Mistral windows', () => {
    const {
      num_key_value_heads: _,
      rope_theta: __,
      tie_word_embeddings: ___,
      rope_scaling: ____,
      ...minimal
    } = llama;
    const c = validateModelConfig({ ...minimal, architectures: ['Qwen2ForCausalLM'], dtype: 'float32' });
    expect(c).toMatchObject({
      family: 'qwen2',
      num_key_value_heads: 32,
      rope_theta: 10000,
      tie_word_embeddings: false,
      rope_scaling: null,
      torch_dtype: 'float32',
      bias: { qkv: true, o: false },
    });
    const m = validateModelConfig({
      ...llama,
      architectures: ['MistralForCausalLM'],
      rope_scaling: null,
      sliding_window: 4096,
      head_dim: 128,
    });
    expect(m).toMatchObject({ family: 'mistral', sliding_window: 4096, head_dim: 128, rope_scaling: null });
    expect(validateModelConfig({ ...llama, rope_scaling: { rope_type: 'default' } })).toMatchObject({
      rope_scaling: null,
    });
  });

  it('names bad fields, unsupported RoPE scaling and inconsistent head counts', () => {
    expect(problems({ ...llama, rope_scaling: { type: 'yarn', factor: 4 } })).toBe(
      'm/config.json: field "rope_scaling.type": "yarn" is not supported (supported: "llama3", "default", or null)',
    );
    expect(problems({ ...llama, rope_scaling: { rope_type: 'llama3', factor: 8 } })).toBe(
      'm/config.json:\n  - field "rope_scaling.low_freq_factor": missing (expected number)\n' +
        '  - field "rope_scaling.high_freq_factor": missing (expected number)\n' +
        '  - field "rope_scaling.original_max_position_embeddings": missing (expected number)',
    );
    expect(problems({ ...llama, num_key_value_heads: 5 })).toBe(
      'm/config.json: field "num_key_value_heads": is 5, which does not divide num_attention_heads (32)',
    );
    expect(problems({ ...llama, hidden_size: 2050 })).toMatch(
      'field "hidden_size": is 2050, not a multiple of num_attention_heads (32); give head_dim',
    );
    expect(problems({ ...llama, hidden_act: 'gelu' })).toBe(
      'm/config.json: field "hidden_act": expected "silu", got "gelu"',
    );
    expect(problems({ ...llama, torch_dtype: 'float64' })).toBe(
      'm/config.json: field "torch_dtype": expected one of "float32", "float16", "bfloat16", got "float64"',
    );
    expect(problems({ ...llama, vocab_size: undefined })).toBe(
      'm/config.json: field "vocab_size": missing (expected number)',
    );
  });
});

describe('dispatch', () => {
  it('lists the known architectures for an unknown one', () => {
    const known = 'known: cifar-resnet, resnet, vgg, LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM';
    expect(problems({ architecture: 'densenet' })).toBe(
      `m/config.json: unknown architecture "densenet" (${known})`,
    );
    expect(problems({ architectures: ['GPT2LMHeadModel'] })).toBe(
      `m/config.json: unknown architectures ["GPT2LMHeadModel"] (${known})`,
    );
    expect(problems({ depth: 56 })).toBe(
      `m/config.json: no "architecture" (CNNs) or "architectures" (transformers LLMs) field (${known})`,
    );
    expect(problems([1])).toBe('m/config.json: expected a JSON object, got [1]');
  });

  it('reports invalid JSON and reads config.json from a directory', async () => {
    expect(() => parseModelConfig('{"depth": 5', 'x/config.json')).toThrow(
      /^x\/config\.json: not valid JSON/,
    );
    const dir = memoryDirectory(
      { 'config.json': new TextEncoder().encode(JSON.stringify(resnet56)) },
      'models/fmnist',
    );
    expect(await readModelConfig(dir)).toMatchObject({ depth: 56 });
    const bad = memoryDirectory(
      { 'config.json': new TextEncoder().encode('{"architecture":"vgg"}') },
      'models/v',
    );
    await expect(readModelConfig(bad)).rejects.toThrow(/^models\/v\/config\.json:\n {2}- field "depth"/);
  });
});
