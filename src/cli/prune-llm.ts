// `sglp prune MODEL --data text:FILE (--remove R | --keep-per-segment …) [--seq-len 128] [--precision f16]
// [--stream [--memory-cap BYTES]] [--save-dtype D] [--finetune-epochs E] --out DIR` on a
// LLaMA-family model directory (src/sglp/families/lm/). Writes a Hugging Face directory: model.safetensors
// (kept layers renumbered `model.layers.{i}`; a tied model stays tied, without lm_head.weight), config.json
// (the input's, num_hidden_layers updated), the input's tokenizer files, then sglp-report.json and
// report.html; all at once (a staging directory renamed to DIR: output.ts). --samples, --batch and the GradNorm sizes count windows here.
// Tensors keep the input's dtype (`--save-dtype auto`; kept tensors are then the input's bytes unless
// fine-tuned); `--finetune-epochs E` fine-tunes a copy with AdamW and writes the fine-tuned weights.
// These are the language model's flags and data; the model is pruned by the library as an image classifier
// is (prune-run.ts), loaded, or with --stream opened for layer streaming (`loadModel(…, { stream: true })`).

import type { PerplexityMetrics } from '../eval/perplexity.js';
import type { LlmConfig } from '../io/config.js';
import { parseDataSpec } from '../io/data-spec.js';
import { textWindows } from '../io/text-data.js';
import { readTokenizer } from '../io/tokenizer.js';
import { directorySource } from '../node/files.js';
import { parseSaveDtype } from '../sglp/export.js';
import { SGLP_TEXT_DEFAULTS } from '../sglp/families/lm/prune.js';
import type { KeepRequest } from '../sglp/keep-plan.js';
import type { Method, Report } from '../sglp/report/schema.js';
import { checkMemoryCap } from './common.js';
import { checkPrecisionStream, parsePrecision } from './precision.js';
import { preflightPrune, readTextData } from './preflight.js';
import { processIo } from './progress.js';
import { type PruneCliOptions, type PruneDeps, protocolOptions } from './prune-common.js';
import { pruneWithLibrary } from './prune-run.js';

/** The LLM branch of pruneCommand, after the method, target and --data syntax were checked. */
export async function pruneLlmCommand(
  model: string,
  opts: PruneCliOptions,
  deps: PruneDeps,
  parsed: {
    config: LlmConfig;
    method: Method;
    target: KeepRequest;
  },
): Promise<Report> {
  const io = deps.io ?? processIo;
  const spec = parseDataSpec(opts.data);
  if (spec.kind !== 'text') {
    throw new Error(
      `${model} is a language model (${parsed.config.architecture}): --data must be text:FILE, got "${opts.data}"`,
    );
  }
  const saveDtype = parseSaveDtype(opts.saveDtype);
  const precision = parsePrecision(opts.precision);
  if (deps.before && !('perplexity' in deps.before))
    throw new Error('pruneCommand: deps.before holds classifier metrics; this is a language model');
  const seqLen = opts.seqLen ?? SGLP_TEXT_DEFAULTS.seqLen;
  if (!Number.isSafeInteger(seqLen) || seqLen < 2) {
    throw new Error(`--seq-len must be an integer >= 2 (one token predicts the next), got ${opts.seqLen}`);
  }
  checkPrecisionStream(precision, opts.stream ? '--stream' : undefined);
  if (opts.recalibrate) {
    throw new Error(`--recalibrate repairs batch norm; ${model} is a language model and has none`);
  }
  if (opts.stream && opts.finetuneEpochs) {
    throw new Error('--finetune-epochs needs the model loaded on the device; it does not run with --stream');
  }
  if (precision !== 'f32' && opts.finetuneEpochs) {
    // Fine-tuning trains an f32 copy: it would hold both copies and report f32 results as f16 ones.
    throw new Error(`--finetune-epochs trains f32 weights; it does not run with --precision ${precision}`);
  }
  const cap = opts.memoryCap;
  checkMemoryCap(cap);
  // Flags, model, --out and data, before the device is touched (preflight.ts).
  const pre = await preflightPrune(model, opts);
  for (const note of pre.notes) io.stderr(`note: ${note}\n`);
  const dir = directorySource(model);
  const { tokenizer, train, test } = pre.text ?? (await readWindows(dir, spec.file, seqLen));
  if (test.windows === 0) {
    throw new Error(
      `${spec.file} (test): ${test.splitTokens} tokens (${tokenizer.name}), not one full window of --seq-len ${seqLen}`,
    );
  }

  const options = {
    target: parsed.target,
    method: parsed.method,
    ...protocolOptions(opts),
    before: deps.before as PerplexityMetrics | undefined,
    calibrationCache: deps.calibrationCache,
    saveDtype,
    dataSpec: opts.data,
    input: model,
    output: opts.out,
  };
  // Loaded (or, with --stream, opened: every stage reads the layers it needs from the checkpoint), pruned
  // and exported by the library (prune-run.ts); fine-tuned weights are evaluated as written, rounded to the
  // dtype each is saved in (src/api/family.ts).
  const finetune = opts.finetuneEpochs
    ? { epochs: opts.finetuneEpochs, samples: opts.finetuneSamples, lr: opts.finetuneLr }
    : undefined;
  return pruneWithLibrary(
    model,
    {
      data: { train, test },
      options: { ...options, finetune },
      precision,
      ...(cap === undefined ? {} : { memoryCap: cap }),
      ...(opts.stream ? { stream: true } : {}),
    },
    opts,
    deps,
  );
}

/** The text's windows of both splits, with the model's tokenizer. */
async function readWindows(dir: ReturnType<typeof directorySource>, file: string, seqLen: number) {
  const tokenizer = await readTokenizer(dir);
  const ids = tokenizer.encode(await readTextData(file));
  return {
    tokenizer,
    train: textWindows(ids, 'train', seqLen, { name: file }),
    test: textWindows(ids, 'test', seqLen, { name: file }),
  };
}
