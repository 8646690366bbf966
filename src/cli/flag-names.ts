// The command line's names for the library's options: the library and the method throw OptionErrors that
// name option fields (`samples`, `gradnormBatches`: src/io/option-error.ts), and the commands reword them
// with the flag a user types (`--samples`, `--gradnorm-batches`), through this one table.

import { OptionError } from '../io/option-error.js';

/** Each option field of the library (src/api/) and the flag that sets it. */
export const FLAG_OF: Readonly<Record<string, string>> = {
  samples: '--samples',
  batch: '--batch',
  estimator: '--estimator',
  gradnormBatches: '--gradnorm-batches',
  gradnormBatchSize: '--gradnorm-batch-size',
  maxExhaustive: '--max-exhaustive',
  evalLimit: '--eval-limit',
  evalBatch: 'eval batch',
  limit: '--limit',
  seed: '--seed',
  score: '--score',
  select: '--select',
  method: '--method',
  segments: '--segments',
  'target.remove': '--remove',
  'target.keepPerSegment': '--keep-per-segment',
  recalibrate: '--recalibrate',
  finetune: '--finetune-epochs',
  'finetune.epochs': '--finetune-epochs',
  'finetune.samples': '--finetune-samples',
  'finetune.lr': '--finetune-lr',
  saveDtype: '--save-dtype',
  precision: '--precision',
  stream: '--stream',
  seqLen: '--seq-len',
};

/** The flag of an option field (`gradnormBatchSize` → `--gradnorm-batch-size`). */
export function flagOf(field: string): string {
  return FLAG_OF[field] ?? `--${field.replace(/^.*\./, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** `e` with an OptionError's message naming flags instead of option fields; any other error as it is. */
export function asFlagError(e: unknown): unknown {
  if (e instanceof OptionError) e.message = e.messageWith(flagOf);
  return e;
}

/** Runs a library call, rewording its OptionErrors with the flags (asFlagError). */
export async function withFlagNames<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw asFlagError(e);
  }
}
