// The device half of `sglp prune` for a model loaded whole, either family (prune.ts checks the flags and
// data first): the library's loadModel, prune and exportModel (src/api/), as the page, Deno and
// examples/node/prune.mjs run them, then every file into a staging directory renamed to --out when all
// are complete (output.ts). Only an LM's --stream runs elsewhere (prune-llm.ts: the library loads models).

import { exportModel } from '../api/export.js';
import type { Split } from '../api/family.js';
import { loadModel } from '../api/model.js';
import { type PruneCallOptions, prune } from '../api/run.js';
import type { Gpu } from '../gpu/device.js';
import type { Precision } from '../nn/params.js';
import { acquireDevice } from '../node/device.js';
import { directorySource, pathIn, writeFileAtomic } from '../node/files.js';
import type { Report } from '../sglp/report/schema.js';
import { writeStaged } from './output.js';
import { checkPrecisionSupported } from './precision.js';
import { processIo } from './progress.js';
import { type PruneDeps, printReport, progressReporter, writeReportFiles } from './prune-common.js';

/** What the command checked before the device, for either family. */
export interface LoadedPrune {
  readonly data: { readonly train: Split; readonly test: Split };
  /** The pipeline's and the family's options, --out and the provenance fields included. */
  readonly options: Omit<PruneCallOptions, 'onProgress' | 'signal'> & { readonly output: string };
  readonly precision: Precision;
  /** Language models: fail any allocation past this many bytes. */
  readonly memoryCap?: number;
  /** The summary, given the files written besides config.json and model.safetensors. */
  readonly summary: (r: Report, sideFiles: readonly string[]) => string;
}

export async function pruneLoaded(
  model: string,
  run: LoadedPrune,
  opts: { readonly json?: boolean },
  deps: PruneDeps,
): Promise<Report> {
  const io = deps.io ?? processIo;
  const cap = run.memoryCap;
  const gpu: Gpu = deps.gpu ?? (await acquireDevice(cap === undefined ? {} : { memoryCap: cap }));
  const capBefore = gpu.pool.memoryCap;
  if (deps.gpu && cap !== undefined) gpu.pool.memoryCap = cap;
  const reporter = progressReporter(io);
  try {
    checkPrecisionSupported(gpu, run.precision);
    const loaded = await loadModel(gpu, directorySource(model), { precision: run.precision });
    try {
      const result = await prune(loaded, run.data, {
        ...run.options,
        onProgress: reporter.onProgress,
        ...(deps.signal ? { signal: deps.signal } : {}),
      });
      try {
        reporter.stop();
        const exported = await exportModel(loaded, result);
        const sideFiles = [...exported.files.keys()].filter(
          (f) => f !== 'config.json' && f !== 'model.safetensors',
        );
        await writeStaged(run.options.output, deps.signal, async (dir) => {
          for (const [name, bytes] of exported.files) await writeFileAtomic(pathIn(dir, name), bytes);
          await writeReportFiles(dir, result.report);
        });
        printReport(result.report, io, opts.json, (r) => run.summary(r, sideFiles));
        return result.report;
      } finally {
        result.finetuned?.dispose();
        result.view?.dispose();
      }
    } finally {
      await loaded.dispose();
    }
  } finally {
    reporter.stop();
    if (deps.gpu) gpu.pool.memoryCap = capBefore;
    else gpu.destroy();
  }
}
