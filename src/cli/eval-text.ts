// `sglp eval MODEL --data text:FILE [--split test] [--seq-len 128] [--limit N] [--batch B] [--json]`: the
// windows a LLaMA-family model directory is evaluated on (eval.ts runs the evaluation through the library),
// checked before the device is touched.

import { readModelConfig } from '../io/config.js';
import type { Split } from '../io/data-spec.js';
import { DEFAULT_SEQ_LEN, type TextWindows, textWindows } from '../io/text-data.js';
import { readTokenizer } from '../io/tokenizer.js';
import type { Precision } from '../nn/params.js';
import { directorySource } from '../node/files.js';
import { parsePrecision } from './precision.js';
import { PreflightError, readTextData } from './preflight.js';
import type { CliIo } from './progress.js';

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

/** The text's windows of one split under the model's tokenizer, every problem named before the device. */
export async function textEvalData(
  model: string,
  opts: TextEvalOptions,
  io: CliIo,
): Promise<{ data: TextWindows; tokenizer: string; seqLen: number; precision: Precision }> {
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
  return { data, tokenizer: tokenizer.name, seqLen, precision };
}
