// `sglp prune` on tiny random LLaMA checkpoints written here: the Hugging Face export (config, renumbered
// keys, tied/untied head, tokenizer files), its round trip through `sglp eval`, the GradNorm search's
// candidates, the baselines against f64 computations, determinism and the errors.

import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { evalCommand } from '../../src/cli/eval.js';
import { type PruneCliOptions, pruneCommand } from '../../src/cli/prune.js';
import { validateModelConfig } from '../../src/io/config.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import { textWindows } from '../../src/io/text-data.js';
import { parseTokenizer } from '../../src/io/tokenizer.js';
import { openFileSource, writeSafetensorsFile } from '../../src/node/files.js';
import { chooseRandom } from '../../src/sglp/baselines.js';
import { parseReport, type Report, reportWithoutTimings } from '../../src/sglp/report/schema.js';
import { tinyBpeTokenizerJson } from '../helpers/bpe-tokenizer.js';
import { captureIo } from '../helpers/cli.js';
import { useGpu } from '../helpers/gpu.js';
import { embeddingRef, type LlamaRefConfig, llamaRef } from '../helpers/llm-reference.js';
import { values } from '../helpers/reference.js';
import { tinyTextPrune } from '../helpers/tiny-llama.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

const getGpu = useGpu();
let root: string;
let corpus: string;
const LAYERS = 6;
const SEQ = 16;
const TEXT =
  'The quick brown fox jumps over the lazy dog. Then the dog wakes up and chases the fox around the ' +
  'yard, while the cat watches from the fence and thinks about the hello of it all. Hello there, said ' +
  'the fox to the hen; the hen said nothing at all and went on pecking at the ground by the well. ';
const CORPUS = TEXT.repeat(8);

function configJson(vocab: number, tied: boolean) {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: LAYERS,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: vocab,
    rms_norm_eps: 1e-5,
    max_position_embeddings: 64,
    rope_theta: 10000,
    tie_word_embeddings: tied,
    torch_dtype: 'float32',
    bos_token_id: 0,
    transformers_version: '4.44.0',
  };
}

/** Writes a random tiny model directory; returns its weights and the f64 reference config. */
async function writeModel(
  dir: string,
  opts: { vocab: number; tied: boolean; tokenizer?: string; seed: number },
) {
  await mkdir(dir, { recursive: true });
  const cfg = configJson(opts.vocab, opts.tied);
  await writeFile(join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
  if (opts.tokenizer) {
    await writeFile(join(dir, 'tokenizer.json'), opts.tokenizer);
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 64 }));
    await writeFile(join(dir, 'special_tokens_map.json'), JSON.stringify({ bos_token: '<s>' }));
  }
  const d = describeModel(validateModelConfig(cfg));
  const w: Record<string, Float32Array> = {};
  d.params.forEach((p, i) => {
    const v = values(
      p.shape.reduce((a, b) => a * b, 1),
      opts.seed + i,
      0.4,
    );
    w[p.key] = p.key.endsWith('norm.weight') ? v.map((x) => 1 + x / 2) : v;
  });
  await writeSafetensorsFile(
    join(dir, 'model.safetensors'),
    Object.fromEntries(
      d.params.map((p) => [p.key, { dtype: 'F32' as const, shape: p.shape, data: w[p.key] }]),
    ),
  );
  const ref: LlamaRefConfig = {
    hidden: 16,
    intermediate: 24,
    heads: 4,
    kvHeads: 2,
    headDim: 4,
    vocab: opts.vocab,
    layers: LAYERS,
    eps: 1e-5,
    theta: 10000,
    tied: opts.tied,
    qkvBias: false,
    oBias: false,
    mlpBias: false,
  };
  return { w, ref, cfg };
}

const base = (out: string, extra: Partial<PruneCliOptions> = {}) => tinyTextPrune(corpus, SEQ, out, extra);

async function readTensors(file: string): Promise<Map<string, Float32Array>> {
  const src = await openFileSource(file);
  try {
    const st = await openSafetensors(src);
    const m = new Map<string, Float32Array>();
    for (const k of st.keys()) m.set(k, await st.float32(k));
    return m;
  } finally {
    await src.close?.();
  }
}

let bpeModel: Awaited<ReturnType<typeof writeModel>>;
let bpeDir: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sglp-prune-llm-'));
  corpus = join(root, 'corpus.txt');
  await writeFile(corpus, CORPUS);
  bpeDir = join(root, 'bpe-tied');
  bpeModel = await writeModel(bpeDir, {
    vocab: 261,
    tied: true,
    tokenizer: tinyBpeTokenizerJson(),
    seed: 70,
  });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('sglp prune on a LLaMA model directory', () => {
  let report: Report;
  const out1 = () => join(root, 'sglp-1');

  it('writes a Hugging Face directory that sglp eval reads back to the report perplexity', async () => {
    const gpu = await getGpu();
    const { io, out, err } = captureIo();
    report = await pruneCommand(bpeDir, base(out1()), { io, gpu });
    expect(out.join('')).toMatch(/removed 2 of 6 decoder layers .*\nperplexity [\d.]+ → [\d.]+/s);
    // The default for language models: the loss search (bench/RESULTS.md, "Selection benchmark").
    expect(err.join('')).toMatch(/loss search/);
    expect(report.protocol.importance).toMatchObject({ score: 'loss', select: 'min' });
    expect(report.passes.backward).toBe(0);
    expect(parseReport(await readFile(join(out1(), 'sglp-report.json'), 'utf8'))).toEqual(report);
    expect(report.model.architecture).toBe('llama');
    expect(report.protocol.data.seqLen).toBe(SEQ);
    expect(report.protocol.preset).toBe('reduced');
    expect(report.cka.batchSize).toBe(4 * SEQ);
    expect(report.cka.batches).toBe(2);
    expect(report.removed).toHaveLength(2);
    const html = await readFile(join(out1(), 'report.html'), 'utf8');
    expect(html).toMatch(/perplexity/i);

    // config.json: the input's fields, num_hidden_layers updated.
    const config = JSON.parse(await readFile(join(out1(), 'config.json'), 'utf8'));
    expect(config).toEqual({ ...bpeModel.cfg, num_hidden_layers: LAYERS - 2 });

    // Keys renumbered, each tensor the kept layer's; tied: no lm_head.weight.
    const got = await readTensors(join(out1(), 'model.safetensors'));
    expect(got.has('lm_head.weight')).toBe(false);
    const layerIds = new Set([...got.keys()].flatMap((k) => k.match(/^model\.layers\.(\d+)\./)?.[1] ?? []));
    expect([...layerIds].map(Number).sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
    report.kept.forEach((old, i) => {
      for (const [k, v] of Object.entries(bpeModel.w)) {
        if (!k.startsWith(`model.layers.${old}.`)) continue;
        expect(got.get(k.replace(`model.layers.${old}.`, `model.layers.${i}.`)), k).toEqual(v);
      }
    });
    expect(got.get('model.embed_tokens.weight')).toEqual(bpeModel.w['model.embed_tokens.weight']);
    expect(got.get('model.norm.weight')).toEqual(bpeModel.w['model.norm.weight']);
    expect(got.size).toBe(2 + (LAYERS - 2) * 9);

    // Tokenizer files copied byte for byte.
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
      expect(await readFile(join(out1(), f), 'utf8'), f).toBe(await readFile(join(bpeDir, f), 'utf8'));
    }

    // Round trip: sglp eval of the pruned directory gives the report's "after" (and of the input, "before").
    const after = await evalCommand(
      out1(),
      { data: `text:${corpus}`, seqLen: SEQ },
      { io: captureIo().io, gpu },
    );
    const m = report.metrics.after as { perplexity: number; nll: number; tokens: number };
    expect(after.tokens).toBe(m.tokens);
    expect(Math.abs(after.nll - m.nll)).toBeLessThanOrEqual(1e-6 * m.nll);
    const before = await evalCommand(
      bpeDir,
      { data: `text:${corpus}`, seqLen: SEQ },
      { io: captureIo().io, gpu },
    );
    expect(before.nll).toBeCloseTo((report.metrics.before as { nll: number }).nll, 6);
    const ids = parseTokenizer(tinyBpeTokenizerJson()).encode(CORPUS);
    expect(m.tokens).toBe(textWindows(ids, 'test', SEQ).windows * (SEQ - 1));
  });

  it('scores every candidate of every searched segment and keeps the lowest score', () => {
    const imp = report.importance;
    expect(imp).toBeDefined();
    const segments = report.segmentation.segments;
    expect(segments).toHaveLength(2);
    let removedBySearch = 0;
    for (const p of imp?.perSegment ?? []) {
      const [a, b] = segments[p.segment];
      const size = b - a;
      removedBySearch += size - p.keep;
      // Exhaustive: C(size, keep) distinct keep-sets of the segment, each with a finite positive score.
      const binom = (n: number, k: number): number => (k === 0 ? 1 : (binom(n - 1, k - 1) * n) / k);
      expect(p.search).toBe('exhaustive');
      expect(p.candidates).toHaveLength(binom(size, p.keep));
      const sets = new Set(p.candidates.map((c) => c.units.join(',')));
      expect(sets.size).toBe(p.candidates.length);
      for (const c of p.candidates) {
        expect(c.units).toHaveLength(p.keep);
        expect(c.units.every((u) => u >= a && u < b)).toBe(true);
        expect(Number.isFinite(c.score) && c.score > 0).toBe(true);
      }
      const min = Math.min(...p.candidates.map((c) => c.score));
      expect(p.best.score).toBe(min);
      // Different keep-sets prune different layers: their scores are not all one value.
      if (p.candidates.length > 1) expect(new Set(p.candidates.map((c) => c.score)).size).toBeGreaterThan(1);
    }
    expect(removedBySearch).toBe(2);
  });

  it('gives the same report on a second run (timings aside)', async () => {
    const gpu = await getGpu();
    const again = await pruneCommand(bpeDir, base(join(root, 'sglp-2')), { io: captureIo().io, gpu });
    const strip = (r: Report) => ({ ...reportWithoutTimings(r), model: { ...r.model, output: '' } });
    expect(strip(again)).toEqual(strip(report));
  });
});

describe('LLM baselines', () => {
  let dir: string;
  let model: Awaited<ReturnType<typeof writeModel>>;
  beforeAll(async () => {
    dir = join(root, 'bytes-untied');
    model = await writeModel(dir, { vocab: 256, tied: false, seed: 90 });
  });

  /** f64 BI and angular distance per layer over the calibration token rows (8 windows, batches of 4). */
  function f64Scores() {
    const ids = Array.from(new TextEncoder().encode(CORPUS));
    const data = textWindows(ids, 'train', SEQ, { limit: 8 });
    const cos = Array.from({ length: LAYERS }, () => [] as number[]);
    for (let w = 0; w < 8; w += 4) {
      const batch = data.ids.subarray(w * SEQ, (w + 4) * SEQ);
      const { hidden } = llamaRef(model.ref, model.w, batch, 4, SEQ);
      const x0 = embeddingRef(model.w['model.embed_tokens.weight'], batch, 16);
      for (let l = 0; l < LAYERS; l++) {
        const hin = l === 0 ? x0 : hidden[l - 1];
        const hout = hidden[l];
        for (let r = 0; r < 4 * SEQ; r++) {
          let xy = 0;
          let xx = 0;
          let yy = 0;
          for (let c = 0; c < 16; c++) {
            const x = hin[r * 16 + c];
            const y = hout[r * 16 + c];
            xy += x * y;
            xx += x * x;
            yy += y * y;
          }
          cos[l].push(xy / Math.sqrt(xx * yy));
        }
      }
    }
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    return {
      'block-influence': cos.map((c) => 1 - mean(c)),
      angular: cos.map((c) => mean(c.map((x) => Math.acos(Math.min(1, Math.max(-1, x))) / Math.PI))),
    };
  }

  it('block influence and angular score the layers as an f64 computation does and remove its lowest', async () => {
    const gpu = await getGpu();
    const want = f64Scores();
    for (const method of ['block-influence', 'angular'] as const) {
      const out = join(root, `untied-${method}`);
      const r = await pruneCommand(dir, base(out, { method }), { io: captureIo().io, gpu });
      expect(r.unitScores?.kind).toBe(method);
      const got = r.unitScores?.scores as number[];
      got.forEach((s, l) => {
        expect(Math.abs(s - want[method][l]), `${method} layer ${l}`).toBeLessThanOrEqual(2e-5);
      });
      const order = want[method].map((s, l) => ({ s, l })).sort((a, b) => a.s - b.s);
      expect(order[2].s - order[1].s).toBeGreaterThan(1e-4); // the choice is not a near tie
      expect(r.removed).toEqual([order[0].l, order[1].l].sort((a, b) => a - b));
      expect(r.importance).toBeUndefined();
      // Untied: lm_head.weight is written, the input's.
      const got2 = await readTensors(join(out, 'model.safetensors'));
      expect(got2.get('lm_head.weight')).toEqual(model.w['lm_head.weight']);
      // No tokenizer in the input (UTF-8 bytes): none written.
      await expect(readFile(join(out, 'tokenizer.json'))).rejects.toThrow(/ENOENT/);
    }
  });

  it('last removes the last layers; random follows its seed', async () => {
    const gpu = await getGpu();
    const last = await pruneCommand(dir, base(join(root, 'last'), { method: 'last' }), {
      io: captureIo().io,
      gpu,
    });
    expect(last.removed).toEqual([4, 5]);
    const rnd = await pruneCommand(dir, base(join(root, 'random'), { method: 'random', seed: 3 }), {
      io: captureIo().io,
      gpu,
    });
    expect(rnd.removed).toEqual(chooseRandom([0, 1, 2, 3, 4, 5], 2, 3));
    const cfg = JSON.parse(await readFile(join(root, 'random', 'config.json'), 'utf8'));
    expect(cfg.num_hidden_layers).toBe(4);
  });
});

describe('sglp prune on an LLM: errors', () => {
  it('names the bad flag or data', async () => {
    const gpu = await getGpu();
    const { io } = captureIo();
    const o = (name: string) => join(root, `err-${name}`);
    await expect(pruneCommand(bpeDir, base(o('ft'), { finetuneSamples: 4 }), { io, gpu })).rejects.toThrow(
      /--finetune-samples limits fine-tuning: give --finetune-epochs E/,
    );
    await expect(pruneCommand(bpeDir, base(o('seq'), { seqLen: 1 }), { io, gpu })).rejects.toThrow(
      /--seq-len must be an integer >= 2/,
    );
    await expect(pruneCommand(bpeDir, base(o('seq64'), { seqLen: 128 }), { io, gpu })).rejects.toThrow(
      // The model's positions are checked first (the pre-flight): 128 > its max_position_embeddings 64.
      /--seq-len 128 is longer than .*max_position_embeddings 64/,
    );
    await expect(
      pruneCommand(bpeDir, base(o('img'), { data: 'fashion-mnist' }), { io, gpu }),
    ).rejects.toThrow(/is a language model .*--data must be text:FILE, got "fashion-mnist"/);
    await expect(pruneCommand(bpeDir, base(o('samples'), { samples: 500 }), { io, gpu })).rejects.toThrow(
      /--samples 500: .* has only \d+ windows of 16 tokens/,
    );
    const cnn = join(root, 'cnn');
    await mkdir(cnn, { recursive: true });
    await writeTinyModel(cnn);
    await expect(
      pruneCommand(cnn, { ...base(o('cnn')), data: 'fashion-mnist', seqLen: 16 }, { io, gpu }),
    ).rejects.toThrow(/--seq-len applies to language models on text:FILE data only/);
  });
});
