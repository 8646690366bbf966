// `sglp eval MODEL --data text:FILE [--split test] [--seq-len 128] [--limit N] [--batch B] [--json]`:
// perplexity of a LLaMA-family model directory, `{perplexity, nll, tokens}` (DESIGN.md).

import { describeModel } from '../arch/describe.js';
import { evaluatePerplexity, type PerplexityMetrics } from '../eval/perplexity.js';
import type { Gpu } from '../gpu/device.js';
import { readModelConfig } from '../io/config.js';
import type { Split } from '../io/data-spec.js';
import { openCheckpoint } from '../io/safetensors-index.js';
import { DEFAULT_SEQ_LEN, textWindows } from '../io/text-data.js';
import { readTokenizer } from '../io/tokenizer.js';
import { Llama } from '../nn/llama.js';
import { ParamStore } from '../nn/params.js';
import { acquireDevice } from '../node/device.js';
import { directorySource } from '../node/files.js';
import { checkPrecisionSupported, parsePrecision } from './precision.js';
import { PreflightError, readTextData } from './preflight.js';
import { type CliIo, Progress } from './progress.js';

/** Windows per forward pass: the logits of 4 windows of 128 tokens over a 32k vocabulary are 64 MiB. */
export const TEXT_EVAL_DEFAULT_BATCH = 4;

export interface TextEvalOptions {
  readonly file: string;
  readonly split: Split;
  readonly seqLen?: number;
  readonly limit?: number;
  readonly batch?: number;
  readonly json?: boolean;
  /** Weight matrices on the device as f32 (default) or f16. */
  readonly precision?: string;
}

/** UTF-8 text of a file, named in errors (a directory or bad UTF-8 too, with the byte offset: preflight.ts). */
export function readTextFile(file: string): Promise<string> {
  return readTextData(file);
}

export async function evalTextCommand(
  model: string,
  opts: TextEvalOptions,
  deps: { io: CliIo; gpu?: Gpu },
): Promise<PerplexityMetrics & { split: Split }> {
  const { io } = deps;
  const precision = parsePrecision(opts.precision);
  const dir = directorySource(model);
  if (!(await dir.has('config.json'))) {
    throw new Error(
      `model ${model} has no config.json (expected a model directory: config.json + model.safetensors)`,
    );
  }
  const config = await readModelConfig(dir);
  if (config.kind !== 'llm') {
    throw new Error(
      `${model}: --data text:FILE needs a language model (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM), ` +
        `not "${config.architecture}"`,
    );
  }
  const desc = describeModel(config);
  const tokenizer = await readTokenizer(dir);
  if (tokenizer.vocabSize > config.vocab_size) {
    io.stderr(
      `warning: ${tokenizer.name} has ids up to ${tokenizer.vocabSize - 1} but vocab_size is ${config.vocab_size}\n`,
    );
  }
  const ids = tokenizer.encode(await readTextFile(opts.file));
  const seqLen = opts.seqLen ?? DEFAULT_SEQ_LEN;
  if (seqLen > config.max_position_embeddings) {
    throw new PreflightError(
      `--seq-len ${seqLen}${opts.seqLen === undefined ? ' (the default)' : ''} is longer than ${model}'s ` +
        `max_position_embeddings ${config.max_position_embeddings}; give --seq-len <= ${config.max_position_embeddings}`,
    );
  }
  const data = textWindows(ids, opts.split, seqLen, { name: opts.file, limit: opts.limit });
  if (data.windows === 0) {
    throw new Error(
      `${opts.file} (${opts.split}): ${data.splitTokens} tokens (${tokenizer.name}), not one full window of ${seqLen}`,
    );
  }
  const batch = opts.batch ?? TEXT_EVAL_DEFAULT_BATCH;
  const gpu = deps.gpu ?? (await acquireDevice());
  let metrics: PerplexityMetrics;
  try {
    checkPrecisionSupported(gpu, precision);
    const store = await openCheckpoint(dir);
    let params: ParamStore;
    try {
      params = await ParamStore.load(gpu, desc, store, { precision });
    } finally {
      await store.close();
    }
    const net = new Llama(gpu, desc, params);
    const progress = new Progress(
      io,
      `eval ${opts.split}`,
      Math.ceil(data.windows / batch),
      'batches',
      'tok/s',
    );
    try {
      metrics = await evaluatePerplexity(net, data, {
        batch,
        onProgress: (p) =>
          progress.update(Math.ceil(p.windows / batch), {
            loss: p.nll,
            rate: (p.windows * seqLen) / Math.max(progress.seconds, 1e-3),
          }),
      });
    } finally {
      progress.stop();
      net.dispose();
      params.dispose();
    }
  } finally {
    if (!deps.gpu) gpu.destroy();
  }
  const result = { perplexity: metrics.perplexity, nll: metrics.nll, tokens: metrics.tokens };
  if (opts.json) io.stdout(`${JSON.stringify(result)}\n`);
  else {
    io.stdout(
      `${model} on ${opts.file} (${opts.split}, ${data.windows} windows of ${seqLen}, ${tokenizer.name}): ` +
        `perplexity ${result.perplexity.toFixed(3)}  nll ${result.nll.toFixed(4)}  (${result.tokens} tokens)\n`,
    );
  }
  return { ...result, split: opts.split };
}
