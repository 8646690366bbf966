// `sglp prune MODEL --data text:FILE (--remove R | --keep-per-segment …) [--seq-len 128] --out DIR` on a
// LLaMA-family model directory (src/sglp/pipeline-llm.ts). Writes a Hugging Face directory: model.safetensors
// (kept layers renumbered `model.layers.{i}`; a tied model stays tied, without lm_head.weight), config.json
// (the input's, num_hidden_layers updated), the input's tokenizer files, then sglp-report.json and
// report.html; each file atomically. --samples, --batch and the GradNorm sizes count windows here.

import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeModel } from '../arch/describe.js';
import type { LlmConfig } from '../io/config.js';
import { parseDataSpec } from '../io/data-spec.js';
import { openCheckpoint } from '../io/safetensors-index.js';
import { textWindows } from '../io/text-data.js';
import { readTokenizer } from '../io/tokenizer.js';
import { ParamStore } from '../nn/params.js';
import { acquireDevice } from '../node/device.js';
import { directorySource, isNotFound, writeFileAtomic, writeSafetensorsFile } from '../node/files.js';
import { methodLabel } from '../report/labels.js';
import type { Method, Report } from '../report/schema.js';
import { HF_SIDE_FILES, prunedHfConfigJson, prunedTensors } from '../sglp/export.js';
import type { KeepRequest } from '../sglp/keep-plan.js';
import { pruneLlm, SGLP_TEXT_DEFAULTS } from '../sglp/pipeline-llm.js';
import { readTextFile } from './eval-text.js';
import { processIo } from './progress.js';
import {
  checkOut,
  type PruneCliOptions,
  type PruneDeps,
  progressReporter,
  protocolOptions,
  REPORT_FILE,
  REPORT_HTML,
  segmentsLine,
  timingAndNotesLines,
  writeReport,
} from './prune-common.js';

/** The LLM branch of pruneCommand, after the method, target and --data syntax were checked. */
export async function pruneLlmCommand(
  model: string,
  opts: PruneCliOptions,
  deps: PruneDeps,
  parsed: { config: LlmConfig; configText: string; method: Method; target: KeepRequest },
): Promise<Report> {
  const io = deps.io ?? processIo;
  const spec = parseDataSpec(opts.data);
  if (spec.kind !== 'text') {
    throw new Error(
      `${model} is a language model (${parsed.config.architecture}): --data must be text:FILE, got "${opts.data}"`,
    );
  }
  if (opts.finetuneEpochs) {
    throw new Error('--finetune-epochs is not supported for language models yet (SGLP.md §5: AdamW)');
  }
  if (deps.before)
    throw new Error('pruneCommand: deps.before holds classifier metrics; this is a language model');
  const seqLen = opts.seqLen ?? SGLP_TEXT_DEFAULTS.seqLen;
  if (!Number.isSafeInteger(seqLen) || seqLen < 2) {
    throw new Error(`--seq-len must be an integer >= 2 (one token predicts the next), got ${opts.seqLen}`);
  }
  await checkOut(model, opts.out);
  const dir = directorySource(model);
  const desc = describeModel(parsed.config);
  const tokenizer = await readTokenizer(dir);
  const ids = tokenizer.encode(await readTextFile(spec.file));
  const train = textWindows(ids, 'train', seqLen, { name: spec.file });
  const test = textWindows(ids, 'test', seqLen, { name: spec.file });
  if (test.windows === 0) {
    throw new Error(
      `${spec.file} (test): ${test.splitTokens} tokens (${tokenizer.name}), not one full window of --seq-len ${seqLen}`,
    );
  }

  const gpu = deps.gpu ?? (await acquireDevice());
  const store = await openCheckpoint(dir);
  const reporter = progressReporter(io);
  try {
    const params = await ParamStore.load(gpu, desc, store);
    try {
      const { report, pruned, view } = await pruneLlm(
        { gpu, desc, params, train, test },
        {
          target: parsed.target,
          method: parsed.method,
          ...protocolOptions(opts, SGLP_TEXT_DEFAULTS.select),
          dataSpec: opts.data,
          input: model,
          output: opts.out,
          onProgress: reporter.onProgress,
          signal: deps.signal,
        },
      );
      reporter.stop();
      await mkdir(opts.out, { recursive: true });
      await writeSafetensorsFile(join(opts.out, 'model.safetensors'), prunedTensors(pruned, view), {
        format: 'pt',
        pruned_by: 'sglp',
      });
      await writeFileAtomic(
        join(opts.out, 'config.json'),
        prunedHfConfigJson(parsed.configText, pruned, join(model, 'config.json')),
      );
      for (const name of HF_SIDE_FILES) {
        let bytes: Uint8Array;
        try {
          bytes = await readFile(join(model, name));
        } catch (err) {
          if (isNotFound(err)) continue;
          throw err;
        }
        await writeFileAtomic(join(opts.out, name), bytes);
      }
      await writeReport(opts.out, report, io, opts.json, summary);
      return report;
    } finally {
      params.dispose();
    }
  } finally {
    reporter.stop();
    await store.close();
    if (!deps.gpu) gpu.destroy();
  }
}

function summary(r: Report): string {
  const ppl = (m: Report['metrics']['before']) => ('perplexity' in m ? m.perplexity.toFixed(3) : '');
  const name = (i: number) => r.units[i].name;
  const m = r.metrics.after;
  return [
    `${r.model.name} (${methodLabel(r)}): removed ${r.removed.length} of ${r.units.length} decoder layers (${r.removed.map(name).join(', ')})`,
    segmentsLine(r),
    `perplexity ${ppl(r.metrics.before)} → ${ppl(m)} (${'tokens' in m ? m.tokens : ''} test tokens, no fine-tuning)`,
    `params ${r.size.paramsBefore} → ${r.size.paramsAfter}, MACs/token ${r.size.macsBefore} → ${r.size.macsAfter}`,
    ...timingAndNotesLines(r),
    `pruned model: ${r.model.output} (Hugging Face: config.json, model.safetensors, tokenizer files); report: ${join(r.model.output, REPORT_FILE)}, ${join(r.model.output, REPORT_HTML)}`,
    '',
  ].join('\n');
}
