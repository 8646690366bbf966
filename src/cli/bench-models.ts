// The end-to-end rows of `sglp bench` (bench.ts): a CIFAR ResNet's eval forward and train step in
// images/s, and one LLaMA decoder layer at a public model's shape in tokens/s, random weights.

import { values } from '../api/selfcheck.js';
import { describeModel } from '../arch/describe.js';
import type { Gpu } from '../gpu/device.js';
import { type CifarResnetConfig, type LlmConfig, validateModelConfig } from '../io/config.js';
import { Llama } from '../nn/llama.js';
import { ParamStore } from '../nn/params.js';
import { CifarResnet } from '../nn/resnet.js';
import { softmaxCrossEntropy, uploadLabels } from '../ops/index.js';
import { initLmArrays } from '../train/lm-loop.js';
import type { Measure } from './bench-measure.js';

/** CIFAR ResNet-56 (3×32×32, batch 64; quick: ResNet-20, batch 8) with PyTorch's init, eval and train. */
export async function resnetRows(gpu: Gpu, quick: boolean, measure: Measure): Promise<void> {
  const depth = quick ? 20 : 56;
  const batch = quick ? 8 : 64;
  const config = validateModelConfig({
    architecture: 'cifar-resnet',
    depth,
    shortcut: 'A',
    in_channels: 3,
    num_classes: 10,
    input_size: [3, 32, 32],
    normalize: { mean: [0, 0, 0], std: [1, 1, 1] },
  }) as CifarResnetConfig;
  const desc = describeModel(config);
  let s = 56;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const params = ParamStore.init(gpu, desc, rand);
  const model = new CifarResnet(gpu, desc, params);
  const x = gpu.keep(gpu.tensor(values(batch * 3 * 32 * 32, 11), [batch, 3, 32, 32]));
  const labels = uploadLabels(
    gpu,
    Int32Array.from({ length: batch }, (_, i) => (i * 7) % 10),
    10,
  );
  // Forward MACs of the network per image (describeModel counts them), ×2 for FLOPs; backward ≈ 2 forwards.
  const fwdFlops = 2 * desc.macs * batch;
  try {
    await model.freezeForEval();
    const name = `resnet${depth} 3x32x32 b${batch}`;
    await measure(
      'resnet',
      `${name} fwd (eval, BN folded)`,
      {
        long: true,
        run: () => gpu.scope(async () => void (await model.forward(x, { mode: 'eval' })).logits),
      },
      { flops: fwdFlops, items: batch, itemKind: 'images' },
    );
    model.unfreeze();
    await measure(
      'resnet',
      `${name} fwd+bwd (train)`,
      {
        long: true,
        run: () =>
          gpu.scope(async () => {
            const { logits, saved } = await model.forward(x, { mode: 'train', updateRunningStats: false });
            const ce = softmaxCrossEntropy(gpu, logits, labels);
            if (!saved || !ce.dlogits) throw new Error('ResNet bench: train mode gave no activations');
            model.backward(saved, ce.dlogits);
          }),
      },
      { flops: 3 * fwdFlops, items: batch, itemKind: 'images' },
    );
  } finally {
    x.dispose();
    labels.dispose();
    params.dispose();
    gpu.pool.trim();
  }
}

/**
 * One decoder layer at the shape of a public model (hidden, heads, MLP), random weights, tokens/s of the
 * forward and forward + backward (every weight's gradient). Full: SmolLM2-135M's layer and
 * Llama-3.2-1B's, both at the SGLP text protocol's batch (B 4 × T 128); quick: a small layer.
 */
export async function llamaRows(gpu: Gpu, quick: boolean, measure: Measure): Promise<void> {
  const shapes = quick
    ? [{ name: 'small', hidden: 64, heads: 4, kvHeads: 2, intermediate: 160, B: 2, T: 64 }]
    : [
        { name: 'SmolLM2-135M', hidden: 576, heads: 9, kvHeads: 3, intermediate: 1536, B: 4, T: 128 },
        { name: 'Llama-3.2-1B', hidden: 2048, heads: 32, kvHeads: 8, intermediate: 8192, B: 4, T: 128 },
      ];
  const vocab = 256;
  for (const sh of shapes) {
    const config = validateModelConfig({
      architectures: ['LlamaForCausalLM'],
      hidden_size: sh.hidden,
      intermediate_size: sh.intermediate,
      num_hidden_layers: 1,
      num_attention_heads: sh.heads,
      num_key_value_heads: sh.kvHeads,
      rms_norm_eps: 1e-5,
      vocab_size: vocab,
      max_position_embeddings: sh.T,
      tie_word_embeddings: true,
    }) as LlmConfig;
    const desc = describeModel(config);
    const params = ParamStore.fromArrays(gpu, desc, initLmArrays(desc, 1, 0.1));
    const net = new Llama(gpu, desc, params);
    const N = sh.B * sh.T;
    const ids = Int32Array.from({ length: N }, (_, i) => (i * 31 + 7) % vocab);
    const tokens = net.tokens(ids, sh.B, sh.T, true);
    const dH = gpu.keep(gpu.tensor(values(N * sh.hidden, 12), [N, sh.hidden]));
    const headDim = sh.hidden / sh.heads;
    // Projections 2·MACs per token, plus causal attention's useful QKᵀ and PV.
    const layerMacs = desc.units[0].macs;
    const fwdFlops = 2 * layerMacs * N + (4 * sh.B * sh.heads * headDim * sh.T * (sh.T + 1)) / 2;
    const name = `llama layer ${sh.name} (hidden ${sh.hidden}, ${sh.heads}/${sh.kvHeads} heads, mlp ${sh.intermediate}) B${sh.B} T${sh.T}`;
    try {
      await measure(
        'llama',
        `${name} fwd`,
        {
          long: true,
          run: async () => {
            const { hidden } = await net.forwardHidden(tokens);
            hidden.dispose();
          },
        },
        { flops: fwdFlops, items: N, itemKind: 'tokens' },
      );
      await measure(
        'llama',
        `${name} fwd+bwd`,
        {
          long: true,
          run: async () => {
            const { saved } = await net.forwardHidden(tokens, { train: true });
            if (!saved) throw new Error('LLaMA bench: no activations');
            const grads = net.backwardHidden(saved, dH, gpu.zeros([vocab, sh.hidden]));
            for (const g of grads.values()) g.dispose();
          },
        },
        { flops: 3 * fwdFlops, items: N, itemKind: 'tokens' },
      );
    } finally {
      tokens.dispose();
      dH.dispose();
      net.dispose();
      params.dispose();
      gpu.pool.trim();
    }
  }
}
