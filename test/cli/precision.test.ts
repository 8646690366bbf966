// `--precision f16` on the language-model commands: eval gives the perplexity of the model whose weight
// matrices are rounded to f16 (the f64 reference on the rounded weights, to f32 precision), cka stays
// close to f32; the flag is refused, naming it, where it does not apply.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { ckaCommand } from '../../src/cli/cka.js';
import { evalCommand } from '../../src/cli/eval.js';
import { parsePrecision } from '../../src/cli/precision.js';
import { pruneCommand } from '../../src/cli/prune.js';
import { validateModelConfig } from '../../src/io/config.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import { textWindows } from '../../src/io/text-data.js';
import { storageDType } from '../../src/nn/params.js';
import { openFileSource, writeSafetensorsFile } from '../../src/node/files.js';
import { decodeF16, encodeF16 } from '../../src/num/half.js';
import { captureIo } from '../helpers/cli.js';
import { useGpu } from '../helpers/gpu.js';
import { type LlamaRefConfig, llamaNllRef } from '../helpers/llm-reference.js';
import { values } from '../helpers/reference.js';

const getGpu = useGpu();
let root: string;
const TEXT =
  'The quick brown fox jumps over the lazy dog. Then the dog wakes up and chases the fox around the ' +
  'yard, while the cat watches from the fence. '.repeat(4);
const CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 3,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 256,
  rms_norm_eps: 1e-5,
  max_position_embeddings: 64,
  tie_word_embeddings: true,
};
const REF: LlamaRefConfig = {
  hidden: 16,
  intermediate: 24,
  heads: 4,
  kvHeads: 2,
  headDim: 4,
  vocab: 256,
  layers: 3,
  eps: 1e-5,
  theta: 10000,
  tied: true,
  qkvBias: false,
  oBias: false,
  mlpBias: false,
};
const desc = describeModel(validateModelConfig(CONFIG));
const weights: Record<string, Float32Array> = {};
desc.params.forEach((p, i) => {
  const v = values(
    p.shape.reduce((a, b) => a * b, 1),
    70 + i,
    0.4,
  );
  weights[p.key] = p.key.endsWith('norm.weight') ? v.map((x) => 1 + x / 2) : v;
});

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sglp-precision-'));
  await writeFile(join(root, 'corpus.txt'), TEXT);
  const model = join(root, 'model');
  await mkdir(model);
  await writeFile(join(model, 'config.json'), JSON.stringify(CONFIG));
  await writeSafetensorsFile(
    join(model, 'model.safetensors'),
    Object.fromEntries(
      desc.params.map((p) => [p.key, { dtype: 'F32' as const, shape: p.shape, data: weights[p.key] }]),
    ),
  );
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('--precision', () => {
  it('eval --precision f16 gives the perplexity of the f16-rounded model; f32 that of the model', async () => {
    const gpu = await getGpu();
    const model = join(root, 'model');
    const data = `text:${join(root, 'corpus.txt')}` as const;
    const opts = { data, split: 'train', seqLen: 16, limit: 4, batch: 2 } as const;
    const { io } = captureIo();
    const f32 = await evalCommand(model, { ...opts, precision: 'f32' }, { io, gpu });
    const f16 = await evalCommand(model, { ...opts, precision: 'f16' }, { io, gpu });
    const windows = textWindows(Array.from(new TextEncoder().encode(TEXT)), 'train', 16, { limit: 4 });
    const rounded = Object.fromEntries(
      desc.params.map((p) => [
        p.key,
        storageDType(p, 'f16') === 'f16' ? decodeF16(encodeF16(weights[p.key])) : weights[p.key],
      ]),
    );
    const ref32 = llamaNllRef(REF, weights, windows.ids, 4, 16);
    const ref16 = llamaNllRef(REF, rounded, windows.ids, 4, 16);
    expect(Math.abs(f32.nll - ref32)).toBeLessThanOrEqual(1e-5 * ref32);
    expect(Math.abs(f16.nll - ref16)).toBeLessThanOrEqual(1e-5 * ref16);
    // The two models differ (the rounding is real), by little.
    expect(ref16).not.toBe(ref32);
    expect(Math.abs(f16.nll - f32.nll)).toBeLessThanOrEqual(2e-3 * f32.nll);
  });

  it('cka --precision f16 is close to f32', async () => {
    const gpu = await getGpu();
    const model = join(root, 'model');
    const data = `text:${join(root, 'corpus.txt')}`;
    const opts = { data, samples: 4, batch: 2, seqLen: 16 };
    const a = await ckaCommand(model, { ...opts, precision: 'f32' }, { io: captureIo().io, gpu });
    const b = await ckaCommand(model, { ...opts, precision: 'f16' }, { io: captureIo().io, gpu });
    const diff = Math.max(...a.matrix.flatMap((row, i) => row.map((x, j) => Math.abs(x - b.matrix[i][j]))));
    expect(diff).toBeLessThan(2e-3);
  });

  it('prune --precision f16 records it and writes the input values, not the rounded device copy', async () => {
    const gpu = await getGpu();
    const model = join(root, 'model');
    const data = `text:${join(root, 'corpus.txt')}`;
    const opts = {
      data,
      remove: 1,
      segments: 1,
      samples: 4,
      batch: 2,
      gradnormBatches: 1,
      gradnormBatchSize: 2,
    };
    const out = join(root, 'pruned-f16');
    const report = await pruneCommand(
      model,
      { ...opts, seqLen: 8, precision: 'f16', saveDtype: 'f32', out },
      { io: captureIo().io, gpu },
    );
    expect(report.protocol.precision).toBe('f16');
    const written = await openSafetensors(await openFileSource(join(out, 'model.safetensors')));
    // 3 layers, 1 removed: the last kept layer is layer 1 of the pruned model.
    const from = `model.layers.${report.kept[report.kept.length - 1]}.mlp.up_proj.weight`;
    const to = 'model.layers.1.mlp.up_proj.weight';
    expect(written.info(to).dtype).toBe('F32');
    expect(await written.float32(to)).toEqual(weights[from]);
  });

  it('is refused where it does not apply, naming the flag', async () => {
    const gpu = await getGpu();
    const { io } = captureIo();
    const llm = join(root, 'model');
    const text = `text:${join(root, 'corpus.txt')}`;
    expect(() => parsePrecision('bf16')).toThrow('--precision must be one of f32, f16, got "bf16"');
    await expect(evalCommand(llm, { data: text, precision: 'f8' }, { io, gpu })).rejects.toThrow(
      '--precision must be one of f32, f16, got "f8"',
    );
    await expect(
      ckaCommand(llm, { data: text, stream: true, precision: 'f16' }, { io, gpu }),
    ).rejects.toThrow('--stream runs f32 layers only');
    await expect(
      pruneCommand(
        llm,
        { data: text, remove: 1, precision: 'f16', finetuneEpochs: 1, out: join(root, 'never') },
        { io, gpu },
      ),
    ).rejects.toThrow('--finetune-epochs trains f32 weights; it does not run with --precision f16');
    const cnn = 'models/fmnist-resnet56';
    await expect(evalCommand(cnn, { data: 'fashion-mnist', precision: 'f16' }, { io, gpu })).rejects.toThrow(
      '--precision f16 applies to language models on text:FILE data only',
    );
    await expect(ckaCommand(cnn, { data: 'fashion-mnist', precision: 'f16' }, { io, gpu })).rejects.toThrow(
      '--precision f16 applies to language models only',
    );
    await expect(
      pruneCommand(
        cnn,
        { data: 'fashion-mnist', remove: 2, precision: 'f16', out: join(root, 'never') },
        { io, gpu },
      ),
    ).rejects.toThrow('--precision f16 applies to language models only');
  });
});
