// Which learning rate should `--finetune-epochs` use on a pruned language model? Every text case of
// cases.ts, at each ratio, is pruned once with the default rule (one calibration per ratio), then fine-tuned
// for one AdamW epoch at each learning rate of LRS on the first 256 train windows (the selection
// benchmark's short epoch) and on all of them (the CLI's default), and its test perplexity recorded.
// Rows are appended to the JSON file as they finish; a rerun skips what is there.
//   npm run bench:finetune-lm -- --trained DIR [--out FILE]
//   node dist/bench-finetune-lm.js --table [--out FILE]      # the markdown table of what is there

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { acquireDevice } from '../../src/node/device.js';
import { pruneLlm } from '../../src/sglp/families/lm/prune.js';
import { CalibrationCache } from '../../src/sglp/pipeline.js';
import type { EvalMetrics } from '../../src/sglp/report/schema.js';
import { BENCH_PROTOCOL, CASES } from './cases.js';
import { loadTextCase } from './load-text.js';

/** The learning rates tried: a decade below the trainer's 3e-3 in half-decade steps. */
const LRS = [1e-4, 3e-4, 1e-3, 3e-3] as const;
/** Windows of the epoch: the selection benchmark's short epoch, and every train window (null). */
const SAMPLES = [BENCH_PROTOCOL.textFinetuneSamples, null] as const;

const { values } = parseArgs({
  options: {
    trained: { type: 'string' },
    out: { type: 'string', default: 'bench/results/finetune-lm-lavapipe.json' },
    table: { type: 'boolean', default: false },
  },
});
if (!values.trained && !values.table) {
  throw new Error('--trained DIR: the folder bench/selection/train-models.sh wrote');
}

interface Row {
  readonly model: string;
  readonly remove: number;
  readonly segmentsAsked: number | null;
  readonly removed: number[];
  readonly lr: number;
  /** Train windows of the epoch (null: all). */
  readonly samples: number | null;
  /** Warmup steps of the run (at most a tenth of its steps). */
  readonly warmup: number | null;
  readonly before: EvalMetrics;
  readonly pruned: EvalMetrics;
  readonly finetuned: EvalMetrics;
  readonly finetuneMs: number;
}

const rows: Row[] = existsSync(values.out) ? JSON.parse(readFileSync(values.out, 'utf8')).rows : [];
let adapter = '';
const save = () => writeFileSync(values.out, `${JSON.stringify({ adapter, lrs: LRS, rows }, null, 1)}\n`);
const ppl = (m: EvalMetrics) => ('perplexity' in m ? m.perplexity : Number.NaN);
/** A case's label: model, removal and forced segments. */
const caseOf = (r: Row) => `${r.model}, remove ${r.remove}${r.segmentsAsked ? `, K ${r.segmentsAsked}` : ''}`;

/** Per case and epoch length, perplexity per learning rate; then each rate's mean rank per epoch length. */
function table(): string {
  const out: string[] = [];
  for (const samples of SAMPLES) {
    const mine = rows.filter((r) => r.samples === samples);
    const cases = [...new Set(mine.map(caseOf))];
    out.push(
      `One epoch on ${samples === null ? 'every train window' : `the first ${samples} train windows`}:`,
      '',
    );
    out.push(`| case | before | pruned | ${LRS.map((lr) => `lr ${lr}`).join(' | ')} |`);
    out.push(`| --- | ---: | ---: | ${LRS.map(() => '---:').join(' | ')} |`);
    const ranks = new Map<number, number[]>(LRS.map((lr) => [lr, []]));
    for (const c of cases) {
      const here = mine.filter((r) => caseOf(r) === c);
      const by = new Map(here.map((r) => [r.lr, ppl(r.finetuned)]));
      const sorted = [...by.values()].sort((a, b) => a - b);
      for (const [lr, v] of by) ranks.get(lr)?.push(sorted.indexOf(v) + 1);
      const cell = (lr: number) => {
        const v = by.get(lr);
        return v === undefined ? 'n/a' : v === sorted[0] ? `**${v.toFixed(2)}**` : v.toFixed(2);
      };
      out.push(
        `| ${c} | ${ppl(here[0].before).toFixed(2)} | ${ppl(here[0].pruned).toFixed(2)} | ${LRS.map(cell).join(' | ')} |`,
      );
    }
    const mean = (v: number[]) => (v.length ? (v.reduce((a, b) => a + b, 0) / v.length).toFixed(2) : '-');
    out.push(
      `| mean rank (${cases.length} cases) | | | ${LRS.map((lr) => mean(ranks.get(lr) ?? [])).join(' | ')} |`,
      '',
    );
  }
  return out.join('\n');
}

if (values.table) {
  console.log(table());
  process.exit(0);
}

const gpu = await acquireDevice();
adapter = gpu.adapter.description;
try {
  for (const c of CASES) {
    if (!c.data.startsWith('text:')) continue;
    const dir = c.where === 'repo' ? c.dir : join(values.trained as string, c.dir);
    if (!existsSync(join(dir, 'model.safetensors'))) {
      console.error(`${c.name}: ${dir} is not trained yet (bench/selection/train-models.sh)`);
      continue;
    }
    const { desc, params, train, test } = await loadTextCase(gpu, c.name, dir, c.data);
    try {
      for (const ratio of c.ratios) {
        const calibrationCache = new CalibrationCache();
        for (const samples of SAMPLES) {
          for (const lr of LRS) {
            const key = (r: Row) =>
              r.model === c.name &&
              r.remove === ratio.remove &&
              r.segmentsAsked === (ratio.segments ?? null) &&
              r.lr === lr &&
              r.samples === samples;
            if (rows.some(key)) continue;
            const before = rows.find((r) => r.model === c.name)?.before;
            const { report, view, finetuned } = await pruneLlm(
              { gpu, desc, params, train, test },
              {
                target: { remove: ratio.remove },
                segments: ratio.segments,
                calibrationCache,
                dataSpec: c.data,
                input: dir,
                output: '(not written)',
                finetune: { epochs: 1, lr, ...(samples === null ? {} : { samples }) },
                ...(before && 'perplexity' in before ? { before } : {}),
              },
            );
            view?.dispose();
            finetuned?.dispose();
            const m = report.metrics;
            if (!m.afterFinetune) throw new Error('internal: no fine-tuned metrics');
            const row: Row = {
              model: c.name,
              remove: ratio.remove,
              segmentsAsked: ratio.segments ?? null,
              removed: report.removed,
              lr,
              samples,
              warmup: report.protocol.finetune?.warmup ?? null,
              before: m.before,
              pruned: m.after,
              finetuned: m.afterFinetune,
              finetuneMs: report.timings.finetuneMs,
            };
            rows.push(row);
            save();
            console.error(
              `${c.name} remove ${ratio.remove} lr ${lr} samples ${samples ?? 'all'}: ` +
                `${ppl(row.pruned).toFixed(3)} -> ${ppl(row.finetuned).toFixed(3)} (${(row.finetuneMs / 1000).toFixed(1)} s)`,
            );
          }
        }
      }
    } finally {
      params.dispose();
    }
  }
} finally {
  gpu.destroy();
}
