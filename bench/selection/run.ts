// The selection benchmark (docs/selection-benchmark.md): every rule of cases.ts on every model and removal
// ratio, with the same calibration (one CKA per model and ratio, shared through a CalibrationCache), the
// same segmentation and keep plan, and the same repair; metrics as pruned, after batch-norm recalibration
// (images) and after one short fine-tuning epoch, plus the time each rule took to choose (calibration,
// CKA, segmentation and its own scoring). Rows are appended to the JSON file as they finish, so an
// interrupted run keeps what it measured and a rerun skips it.
//   npm run bench:selection -- --trained DIR [--only NAME,…] [--rules ID,…] [--out FILE]

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Gpu } from '../../src/gpu/device.js';
import { loadModelDir } from '../../src/node/api.js';
import { loadImageDataset } from '../../src/node/datasets.js';
import { acquireDevice } from '../../src/node/device.js';
import { pruneSglp } from '../../src/sglp/families/image/prune.js';
import { pruneLlm } from '../../src/sglp/families/lm/prune.js';
import { CalibrationCache } from '../../src/sglp/pipeline.js';
import type { EvalMetrics, Report } from '../../src/sglp/report/schema.js';
import { BENCH_PROTOCOL, CASES, type ModelCase, type RatioCase, RULES, type Rule } from './cases.js';
import { loadTextCase } from './load-text.js';

const { values } = parseArgs({
  options: {
    trained: { type: 'string' },
    only: { type: 'string' },
    rules: { type: 'string' },
    out: { type: 'string', default: 'bench/results/selection-lavapipe.json' },
  },
});
if (!values.trained) throw new Error('--trained DIR: the folder bench/selection/train-models.sh wrote');
const only = values.only?.split(',');
const rules = values.rules ? RULES.filter((r) => values.rules?.split(',').includes(r.id)) : RULES;

export interface Row {
  readonly model: string;
  readonly remove: number;
  /** `--segments` asked (null: the elbow rule). */
  readonly segmentsAsked: number | null;
  readonly units: number;
  readonly segments: number;
  readonly kRule: string;
  readonly rule: Rule['id'];
  readonly removed: number[];
  readonly before: EvalMetrics;
  readonly pruned: EvalMetrics;
  readonly recalibrated?: EvalMetrics;
  readonly finetuned?: EvalMetrics;
  /** Calibration + CKA + segmentation + the rule's own scoring, ms. */
  readonly selectionMs: number;
  readonly scoringMs: number;
  readonly preset: string;
  readonly finetuneSamples: number | null;
}

const rows: Row[] = existsSync(values.out) ? JSON.parse(readFileSync(values.out, 'utf8')).rows : [];
/** The adapter the rows were measured on (set once the device is up). */
let adapter = '';
const save = () =>
  writeFileSync(values.out, `${JSON.stringify({ adapter, protocol: BENCH_PROTOCOL, rows }, null, 1)}\n`);
const done = (m: string, r: RatioCase, rule: string) =>
  rows.some(
    (x) =>
      x.model === m && x.remove === r.remove && x.segmentsAsked === (r.segments ?? null) && x.rule === rule,
  );

function rowOf(c: ModelCase, ratio: RatioCase, rule: Rule, report: Report): Row {
  const t = report.timings;
  return {
    model: c.name,
    remove: ratio.remove,
    segmentsAsked: ratio.segments ?? null,
    units: report.units.length,
    segments: report.segmentation.k,
    kRule: report.segmentation.kRule,
    rule: rule.id,
    removed: report.removed,
    before: report.metrics.before,
    pruned: report.metrics.after,
    ...(report.metrics.recalibrated ? { recalibrated: report.metrics.recalibrated } : {}),
    ...(report.metrics.afterFinetune ? { finetuned: report.metrics.afterFinetune } : {}),
    selectionMs: t.featuresMs + t.ckaMs + t.segmentMs + t.importanceMs,
    scoringMs: t.importanceMs,
    preset: report.protocol.preset,
    finetuneSamples: report.protocol.finetune?.samples ?? null,
  };
}

const ruleOptions = (rule: Rule) => ({
  method: rule.method,
  ...('score' in rule ? { score: rule.score } : {}),
  ...('select' in rule ? { select: rule.select } : {}),
});

/** One prune of the benchmark: the rule on the ratio, with the case's shared settings. */
type RunOne = (
  ratio: RatioCase,
  rule: Rule,
  shared: {
    readonly target: { remove: number };
    readonly segments: number | undefined;
    readonly method: Rule['method'];
    readonly calibrationCache: CalibrationCache;
    readonly dataSpec: string;
    readonly input: string;
    readonly output: string;
  },
  before: EvalMetrics | undefined,
) => Promise<Report>;

/** Every ratio and rule of a case not measured yet, one calibration per ratio. */
async function runCase(c: ModelCase, dir: string, run: RunOne): Promise<void> {
  for (const ratio of c.ratios) {
    const calibrationCache = new CalibrationCache();
    for (const rule of rules) {
      if (done(c.name, ratio, rule.id)) continue;
      const t0 = performance.now();
      const shared = {
        target: { remove: ratio.remove },
        segments: ratio.segments,
        ...ruleOptions(rule),
        calibrationCache,
        dataSpec: c.data,
        input: dir,
        output: '(not written)',
      };
      const report = await run(ratio, rule, shared, rows.find((x) => x.model === c.name)?.before);
      record(c, ratio, rule, report, t0);
    }
  }
}

async function imageCase(gpu: Gpu, c: ModelCase, dir: string): Promise<void> {
  const model = await loadModelDir(gpu, dir);
  if (model.kind !== 'classifier') throw new Error(`${dir}: not an image classifier`);
  const train = await loadImageDataset(c.data, 'train');
  const test = await loadImageDataset(c.data, 'test');
  try {
    await runCase(c, dir, async (_ratio, rule, shared, before) => {
      const r = await pruneSglp(
        { gpu, desc: model.desc, params: model.params, normalize: model.normalize, train, test },
        {
          ...shared,
          ...(rule.method === 'sglp' && 'score' in rule && rule.score !== 'similarity' ? c.scoring : {}),
          evalLimit: BENCH_PROTOCOL.imageEvalLimit,
          finetune: { epochs: 1, samples: c.finetuneSamples ?? BENCH_PROTOCOL.imageFinetuneSamples },
          ...(before && 'accuracy' in before ? { before } : {}),
        },
      );
      r.view.dispose();
      r.finetuned?.dispose();
      return r.report;
    });
  } finally {
    model.dispose();
  }
}

async function textCase(gpu: Gpu, c: ModelCase, dir: string): Promise<void> {
  const { desc, params, train, test } = await loadTextCase(gpu, c.name, dir, c.data);
  try {
    await runCase(c, dir, async (_ratio, _rule, shared, before) => {
      const r = await pruneLlm(
        { gpu, desc, params, train, test },
        {
          ...shared,
          finetune: { epochs: 1, samples: BENCH_PROTOCOL.textFinetuneSamples },
          ...(before && 'perplexity' in before ? { before } : {}),
        },
      );
      r.view?.dispose();
      r.finetuned?.dispose();
      return r.report;
    });
  } finally {
    params.dispose();
  }
}

function record(c: ModelCase, ratio: RatioCase, rule: Rule, report: Report, t0: number): void {
  const row = rowOf(c, ratio, rule, report);
  rows.push(row);
  save();
  const m = (x: EvalMetrics | undefined) =>
    x === undefined ? '-' : 'accuracy' in x ? `${(100 * x.accuracy).toFixed(1)}%` : x.perplexity.toFixed(2);
  console.error(
    `${c.name} remove ${ratio.remove} ${rule.id}: ${m(row.pruned)} / ${m(row.recalibrated)} / ${m(row.finetuned)}` +
      ` selection ${(row.selectionMs / 1000).toFixed(1)} s (run ${((performance.now() - t0) / 1000).toFixed(0)} s)`,
  );
}

/** A training run's directory holds a checkpoint after every epoch: only the last one counts. */
function trained(dir: string): boolean {
  const state = join(dir, 'train-state.json');
  if (!existsSync(state)) return true;
  const s = JSON.parse(readFileSync(state, 'utf8'));
  return s.completedEpochs === s.settings.epochs;
}

const gpu = await acquireDevice();
adapter = gpu.adapter.description;
try {
  for (const c of CASES) {
    if (only && !only.includes(c.name)) continue;
    const dir = c.where === 'repo' ? c.dir : join(values.trained, c.dir);
    if (!existsSync(join(dir, 'model.safetensors')) || !trained(dir)) {
      console.error(`${c.name}: ${dir} is not trained yet (bench/selection/train-models.sh)`);
      continue;
    }
    if (c.data.startsWith('text:')) await textCase(gpu, c, dir);
    else await imageCase(gpu, c, dir);
  }
} finally {
  gpu.destroy();
}
