// What `sglp cka` prints and writes (cka.ts): the JSON object {units, matrix, rowSums, batches, ...}, or a
// short summary on stdout; `--out FILE` gets the same JSON, written atomically (src/node/files.ts).

import { writeFileAtomic } from '../node/files.js';
import type { CkaResult, Estimator } from '../sglp/cka.js';
import { rowSums } from '../sglp/segment.js';
import type { CliIo } from './progress.js';

/** `sglp cka`'s output (docs/architecture.md, "Adding a command"). */
export interface CkaOutput {
  /** Unit names (state-dict prefixes), in unit order. */
  readonly units: string[];
  /** L × L, averaged over batches, diagonal exactly 1. */
  readonly matrix: number[][];
  /** Each unit's row sum (diagonal included): SGLP's segmentation input. */
  readonly rowSums: number[];
  readonly batches: number;
  readonly batchSize: number;
  readonly samples: number;
  readonly estimator: Estimator;
}

export function outputOf(cka: CkaResult, samples: number): CkaOutput {
  return {
    units: cka.units,
    matrix: cka.matrix,
    rowSums: rowSums(cka.matrix),
    batches: cka.batches,
    batchSize: cka.batchSize,
    estimator: cka.estimator,
    samples, // last: the JSON's key order is what earlier versions wrote
  };
}

/** Writes `out`, then the JSON or the summary (with `extra` lines) on stdout. */
export async function emit(
  model: string,
  output: CkaOutput,
  opts: { readonly out?: string; readonly json?: boolean },
  io: CliIo,
  extra: readonly string[] = [],
): Promise<CkaOutput> {
  const json = JSON.stringify(output);
  if (opts.out !== undefined) await writeFileAtomic(opts.out, `${json}\n`);
  if (opts.json) io.stdout(`${json}\n`);
  else io.stdout(summary(model, output, opts.out, extra));
  return output;
}

function summary(model: string, o: CkaOutput, out: string | undefined, extra: readonly string[]): string {
  const L = o.units.length;
  let lo = { v: Number.POSITIVE_INFINITY, i: 0, j: 0 };
  for (let i = 0; i < L; i++) {
    for (let j = i + 1; j < L; j++) if (o.matrix[i][j] < lo.v) lo = { v: o.matrix[i][j], i, j };
  }
  const lines = [
    `${model}: ${o.estimator} linear CKA of ${L} units over ${o.batches} batch(es) of ${o.batchSize} ` +
      `(${o.samples} train samples)`,
    `row sums: ${o.rowSums.map((s) => s.toFixed(3)).join(' ')}`,
  ];
  if (L > 1) lines.push(`least similar pair: ${o.units[lo.i]} / ${o.units[lo.j]} (CKA ${lo.v.toFixed(4)})`);
  lines.push(...extra);
  if (out !== undefined) lines.push(`written: ${out}`);
  return `${lines.join('\n')}\n`;
}
