// config.json of LLaMA-family decoders as Hugging Face transformers writes them. Fields transformers
// defaults when absent get the same defaults here, so a config it accepts is read the same way.

import * as z from 'zod';

export const LLM_ARCHITECTURES = ['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM'] as const;
export type LlmArchitecture = (typeof LLM_ARCHITECTURES)[number];

const FAMILY: Record<LlmArchitecture, 'llama' | 'mistral' | 'qwen2'> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
};

const positiveInt = z.number().int().positive();
const tokenIds = z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative())]).nullish();
const torchDtype = z.enum(['float32', 'float16', 'bfloat16']).optional();

/** Llama 3.1's frequency-dependent RoPE scaling. */
const llama3Scaling = z.object({
  factor: z.number().positive(),
  low_freq_factor: z.number().positive(),
  high_freq_factor: z.number().positive(),
  original_max_position_embeddings: positiveInt,
});
export type Llama3RopeScaling = z.output<typeof llama3Scaling> & { rope_type: 'llama3' };

export const llmSchema = z
  .object({
    architectures: z.array(z.string()).min(1),
    model_type: z.string().optional(),
    hidden_size: positiveInt,
    intermediate_size: positiveInt,
    num_hidden_layers: positiveInt,
    num_attention_heads: positiveInt,
    /** Grouped-query attention; transformers defaults it to num_attention_heads. */
    num_key_value_heads: positiveInt.nullish(),
    /** Defaults to hidden_size / num_attention_heads. */
    head_dim: positiveInt.nullish(),
    rms_norm_eps: z.number().positive(),
    rope_theta: z.number().positive().default(10000),
    rope_scaling: z.looseObject({ rope_type: z.string().optional(), type: z.string().optional() }).nullish(),
    vocab_size: positiveInt,
    tie_word_embeddings: z.boolean().default(false),
    max_position_embeddings: positiveInt,
    hidden_act: z.literal('silu').default('silu'),
    attention_bias: z.boolean().default(false),
    mlp_bias: z.boolean().default(false),
    /** Mistral / Qwen2; only matters for sequences longer than the window. */
    sliding_window: positiveInt.nullish(),
    torch_dtype: torchDtype,
    /** transformers >= 4.56 writes "dtype" instead of "torch_dtype". */
    dtype: torchDtype,
    bos_token_id: tokenIds,
    eos_token_id: tokenIds,
  })
  .superRefine((c, ctx) => {
    if (!(LLM_ARCHITECTURES as readonly string[]).includes(c.architectures[0])) {
      ctx.addIssue({
        code: 'custom',
        path: ['architectures', 0],
        message: `expected one of ${LLM_ARCHITECTURES.join(', ')}`,
      });
    }
    const kv = c.num_key_value_heads ?? c.num_attention_heads;
    if (c.num_attention_heads % kv !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['num_key_value_heads'],
        message: `is ${kv}, which does not divide num_attention_heads (${c.num_attention_heads})`,
      });
    }
    if (c.head_dim == null && c.hidden_size % c.num_attention_heads !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['hidden_size'],
        message: `is ${c.hidden_size}, not a multiple of num_attention_heads (${c.num_attention_heads}); give head_dim`,
      });
    }
    checkRopeScaling(c.rope_scaling, ctx);
  })
  .transform((c) => {
    const architecture = c.architectures[0] as LlmArchitecture;
    const family = FAMILY[architecture];
    return {
      kind: 'llm' as const,
      ...c,
      architecture,
      family,
      num_key_value_heads: c.num_key_value_heads ?? c.num_attention_heads,
      head_dim: c.head_dim ?? c.hidden_size / c.num_attention_heads,
      rope_scaling: ropeScaling(c.rope_scaling),
      // Newer transformers write both; "dtype" is the current name.
      torch_dtype: c.dtype ?? c.torch_dtype,
      /** Which linear layers carry a bias: Qwen2 has them on q, k, v; Llama's attention_bias adds all four. */
      bias: {
        qkv: family === 'qwen2' || c.attention_bias,
        o: family !== 'qwen2' && c.attention_bias,
        mlp: c.mlp_bias,
      },
    };
  });

export type LlmConfig = z.output<typeof llmSchema>;

type RawScaling = { rope_type?: string; type?: string; [k: string]: unknown } | null | undefined;

function scalingType(s: NonNullable<RawScaling>): string | undefined {
  return s.rope_type ?? s.type;
}

function checkRopeScaling(s: RawScaling, ctx: z.RefinementCtx): void {
  if (!s) return;
  const type = scalingType(s);
  if (type === 'default') return;
  if (type !== 'llama3') {
    ctx.addIssue({
      code: 'custom',
      path: ['rope_scaling', s.rope_type !== undefined ? 'rope_type' : 'type'],
      message: `${JSON.stringify(type ?? null)} is not supported (supported: "llama3", "default", or null)`,
    });
    return;
  }
  const r = llama3Scaling.safeParse(s);
  for (const issue of r.error?.issues ?? []) {
    ctx.addIssue({ ...issue, path: ['rope_scaling', ...issue.path] } as z.core.$ZodRawIssue);
  }
}

function ropeScaling(s: RawScaling): Llama3RopeScaling | null {
  if (!s || scalingType(s) !== 'llama3') return null;
  return { rope_type: 'llama3', ...llama3Scaling.parse(s) };
}
