// The device half of `sglp prune`, either family, loaded or (an LM's --stream) streamed from its
// checkpoint (prune.ts and prune-llm.ts check the flags and data first): the library's loadModel, prune
// and exportFiles (src/api/), as the page, Deno and examples/node/prune.mjs run them, then every file into
// a staging directory renamed to --out when all are complete (output.ts).

import { exportFiles } from '../api/export.js';
import type { Split } from '../api/family.js';
import { type AnyModel, loadModel } from '../api/model.js';
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
import { pruneSummary } from './prune-summary.js';

/** What the command checked before the device, for either family. */
export interface PruneRun {
  readonly data: { readonly train: Split; readonly test: Split };
  /** The pipeline's and the family's options, --out and the provenance fields included. */
  readonly options: Omit<PruneCallOptions, 'onProgress' | 'signal'> & { readonly output: string };
  readonly precision: Precision;
  /** Language models: fail any allocation past this many bytes. */
  readonly memoryCap?: number;
  /** Language models: never load the model; read its decoder layers from the checkpoint (--stream). */
  readonly stream?: boolean;
}

/** Loads (or opens, streamed) `model`, prunes it by the library and writes every file to --out. */
export async function pruneWithLibrary(
  model: string,
  run: PruneRun,
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
    const source = directorySource(model);
    const loaded: AnyModel = run.stream
      ? await loadModel(gpu, source, { stream: true })
      : await loadModel(gpu, source, { precision: run.precision });
    try {
      const result = await prune(loaded, run.data, {
        ...run.options,
        onProgress: reporter.onProgress,
        ...(deps.signal ? { signal: deps.signal } : {}),
      });
      try {
        reporter.stop();
        // model.safetensors is written a tensor at a time: a streamed model's unchanged tensors are read
        // from the input checkpoint as they are written, never through the device.
        const exported = exportFiles(loaded, result);
        const sideFiles = [...exported.files.keys()].filter(
          (f) => f !== 'config.json' && f !== 'model.safetensors',
        );
        await writeStaged(run.options.output, deps.signal, async (dir) => {
          for (const [name, content] of exported.files) await writeFileAtomic(pathIn(dir, name), content);
          await writeReportFiles(dir, result.report);
        });
        printReport(result.report, io, opts.json, (r) => pruneSummary(r, sideFiles));
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
