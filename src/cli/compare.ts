// `sglp compare MODEL --data SPEC --remove R --methods sglp,random,… [--out DIR] [protocol flags] [--json]`:
// runs `sglp prune` once per method on the same model, data, calibration samples and budget, each into
// DIR/<method>/ (pruned model, sglp-report.json, report.html), then prints one table (src/report/compare.ts)
// and writes it as DIR/compare.json and DIR/compare.md. The unpruned model is evaluated once (by the first
// method) and its metrics reused by the others. Progress on stderr; `--json` prints compare.json's object.

import { type Command, Option } from 'commander';
import { parseDataSpec } from '../io/data-spec.js';
import { acquireDevice } from '../node/device.js';
import { makeDirectory, pathIn, writeFileAtomic } from '../node/files.js';
import { commandSignal } from '../node/signals.js';
import { type CompareRow, compareRows, compareTable } from '../report/compare.js';
import { MAX_EXHAUSTIVE } from '../sglp/candidates.js';
import { SGLP_DEFAULTS } from '../sglp/families/image/prune.js';
import { CalibrationCache } from '../sglp/pipeline.js';
import { METHODS, type Method, type Report, SCORES } from '../sglp/report/schema.js';
import { intAtLeast } from './common.js';
import { type CliIo, Progress, processIo } from './progress.js';
import { parseMethod, pruneCommand } from './prune.js';
import { checkEmptyDir, type PruneCliOptions, type PruneDeps, REPORT_FILE } from './prune-common.js';

export interface CompareCliOptions
  extends Omit<PruneCliOptions, 'method' | 'keepPerSegment' | 'out' | 'remove'> {
  readonly remove: number;
  /** `sglp,random,…` as given. */
  readonly methods?: string;
  readonly out?: string;
}

/** compare.json: the rows of the table, the table itself, and where each method's report is. */
export interface CompareOutput {
  readonly model: string;
  readonly data: string;
  readonly remove: number;
  readonly methods: Method[];
  readonly rows: CompareRow[];
  readonly markdown: string;
  readonly reports: Record<string, string>;
}

export const DEFAULT_METHODS = METHODS;

/** `a,b,c` → distinct known methods, in the order given. */
export function parseMethods(text: string | undefined): Method[] {
  if (text === undefined) return [...DEFAULT_METHODS];
  const parts = text.split(',').map((s) => s.trim());
  if (parts.some((p) => p === '')) throw new Error(`--methods must be a comma-separated list, got "${text}"`);
  const methods = parts.map((p) => {
    try {
      return parseMethod(p);
    } catch {
      throw new Error(`--methods: unknown method "${p}" (known: ${METHODS.join(', ')})`);
    }
  });
  const dup = methods.find((m, i) => methods.indexOf(m) !== i);
  if (dup !== undefined) throw new Error(`--methods lists "${dup}" twice`);
  return methods;
}

/** Lines of the method runs go to stderr; the table alone goes to stdout. */
function quietIo(io: CliIo): CliIo {
  return { stdout: (t) => io.stderr(t), stderr: io.stderr, tty: io.tty };
}

export async function compareCommand(
  model: string,
  opts: CompareCliOptions,
  deps: PruneDeps = {},
): Promise<CompareOutput> {
  const io = deps.io ?? processIo;
  const methods = parseMethods(opts.methods);
  if (!Number.isSafeInteger(opts.remove) || opts.remove < 0) {
    throw new Error(`--remove must be an integer >= 0, got ${opts.remove}`);
  }
  parseDataSpec(opts.data);
  const out = opts.out ?? `compare-out/${new Date().toISOString().replace(/[:.]/g, '-')}`;
  await checkEmptyDir(out);
  const gpu = deps.gpu ?? (await acquireDevice());
  const reports: Report[] = [];
  const paths: Record<string, string> = {};
  const overall = new Progress(io, 'sglp compare', methods.length, 'methods');
  const calibrationCache = new CalibrationCache();
  try {
    for (const [i, method] of methods.entries()) {
      io.stderr(`\n== ${i + 1}/${methods.length}: --method ${method} ==\n`);
      const dir = pathIn(out, method);
      const report = await pruneCommand(
        model,
        { ...opts, method, out: dir, json: false },
        {
          io: quietIo(io),
          gpu,
          signal: deps.signal,
          calibrationCache,
          before: reports.length > 0 ? toMetrics(reports[0].metrics.before) : undefined,
        },
      );
      reports.push(report);
      paths[method] = pathIn(dir, REPORT_FILE);
      overall.update(i + 1);
    }
  } finally {
    overall.stop();
    if (!deps.gpu) gpu.destroy();
  }
  const rows = compareRows(reports);
  const table = compareTable(rows);
  const output: CompareOutput = {
    model,
    data: opts.data,
    remove: opts.remove,
    methods,
    rows,
    markdown: table.markdown,
    reports: paths,
  };
  await makeDirectory(out);
  await writeFileAtomic(pathIn(out, 'compare.json'), `${JSON.stringify(output, null, 2)}\n`);
  await writeFileAtomic(pathIn(out, 'compare.md'), table.markdown);
  if (opts.json) io.stdout(`${JSON.stringify(output)}\n`);
  else {
    const first = reports[0];
    io.stdout(
      `${first.model.name}: remove ${opts.remove} of ${first.units.length} units, ${methods.length} method(s), ` +
        `${first.metrics.recalibrated ? 'batch-norm recalibration for every method, ' : ''}no fine-tuning; ` +
        `time = choosing the units (calibration, CKA, search), evaluation excluded\n\n` +
        `${table.text}\nreports: ${out}/<method>/${REPORT_FILE}; table: ${pathIn(out, 'compare.json')}, ` +
        `${pathIn(out, 'compare.md')}\n`,
    );
  }
  return output;
}

function toMetrics(m: Report['metrics']['before']) {
  return 'accuracy' in m
    ? { accuracy: m.accuracy, loss: m.loss, samples: m.samples }
    : { perplexity: m.perplexity, nll: m.nll, tokens: m.tokens };
}

/** `sglp compare` on the command line: prune's protocol flags, --methods instead of --method. */
export function registerCompare(program: Command): void {
  program
    .command('compare')
    .description(
      'prune one model with several methods on the same data and budget; print one table and write each ' +
        "method's pruned model and report to --out/<method>/",
    )
    .argument('<MODEL>', 'model directory (config.json + model.safetensors); only read')
    .requiredOption(
      '--data <SPEC>',
      'data set: fashion-mnist[:DIR], mnist:DIR, cifar10:DIR, cifar100:DIR, or text:FILE for a language model',
    )
    .requiredOption('--remove <R>', 'units every method removes', intAtLeast(0))
    .option('--methods <LIST>', `comma-separated methods (default: ${DEFAULT_METHODS.join(',')})`)
    .option('--out <DIR>', 'output directory, new or empty (default: compare-out/<date-time>)')
    .option('--segments <K>', 'K segments instead of the elbow rule', intAtLeast(1))
    .addOption(new Option('--score <S>', 'SGLP: the score inside each segment').choices([...SCORES]))
    .addOption(
      new Option('--select <WHICH>', 'SGLP --score gradnorm: candidate kept').choices(['min', 'max']),
    )
    .option(
      '--recalibrate <N>',
      `batch-norm recalibration images, for every method alike (default ${SGLP_DEFAULTS.recalibrate}; 0: off)`,
      intAtLeast(0),
    )
    .option('--seed <S>', 'seed of the random baseline', intAtLeast(0), 0)
    // No commander defaults: images and text have different ones (families/image/defaults.ts, families/lm/defaults.ts).
    .option('--samples <N>', 'calibration samples (first N of the train split; text: windows)', intAtLeast(1))
    .option('--batch <B>', 'calibration batch size', intAtLeast(1))
    .option('--gradnorm-batches <G>', 'SGLP: scoring batches (GradNorm, loss)', intAtLeast(1))
    .option('--gradnorm-batch-size <S>', 'SGLP: scoring batch size', intAtLeast(1))
    .option('--seq-len <T>', 'text: tokens per window (default 128)', intAtLeast(2))
    .option(
      '--max-exhaustive <N>',
      'SGLP: search a segment exhaustively up to N candidates, greedily above',
      intAtLeast(1),
      MAX_EXHAUSTIVE,
    )
    .option('--eval-limit <N>', 'evaluate on the first N test samples only', intAtLeast(1))
    .addOption(new Option('--json', 'print the comparison as one JSON object on stdout'))
    .action(async (model: string, opts: CompareCliOptions) => {
      await compareCommand(model, opts, { signal: commandSignal() });
    });
}
