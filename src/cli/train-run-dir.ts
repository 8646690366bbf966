// The --out directory of a training run, shared by `sglp train` for images and for language models: a
// new run needs a new or empty directory, --resume needs the state file a previous run left, and the
// checkpoint files must hold the epoch the state says (an interrupted write is caught, never resumed).

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import { openSafetensors } from '../io/safetensors.js';
import type { TensorToWrite } from '../io/safetensors-write.js';
import type { ParamStore } from '../nn/params.js';
import {
  isNotFound,
  openFileSource,
  readJsonFile,
  writeFileAtomic,
  writeSafetensorsFile,
} from '../node/files.js';

export const STATE_FILE = 'train-state.json';
export const MODEL_FILE = 'model.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const CONFIG_FILE = 'config.json';

/**
 * Checks `out` for a new run or a resumed one and returns the previous run's state (undefined for a new
 * run). `check` validates the parsed state file and returns it typed, or throws naming the file.
 */
export async function openRunDir<S>(
  out: string,
  resume: boolean,
  check: (state: unknown, file: string) => S,
): Promise<S | undefined> {
  if (resume) {
    const file = join(out, STATE_FILE);
    const state = await readJsonFile(file);
    if (state === undefined) {
      throw new Error(
        `--resume: ${out} holds no ${STATE_FILE}, so there is no run to resume (drop --resume to start one)`,
      );
    }
    return check(state, file);
  }
  let entries: string[] = [];
  try {
    entries = await readdir(out);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (entries.some((e) => !e.startsWith('.'))) {
    const hint = entries.includes(STATE_FILE)
      ? ' (it holds a training run: add --resume to continue it)'
      : '';
    throw new Error(`--out ${out} is not empty${hint}; give a new or empty directory`);
  }
  return undefined;
}

/** Throws unless every checkpoint file in `files` of `out` says it holds epoch `epoch`. */
export async function checkCheckpointEpochs(
  out: string,
  files: readonly string[],
  epoch: number,
): Promise<void> {
  for (const file of files) {
    const path = join(out, file);
    const src = await openFileSource(path);
    let got: string | undefined;
    try {
      got = (await openSafetensors(src)).metadata?.epoch;
    } finally {
      await src.close?.();
    }
    if (got !== String(epoch)) {
      throw new Error(
        `--resume: ${path} holds epoch ${got ?? '?'} but ${STATE_FILE} says ${epoch} (a write was interrupted; start again)`,
      );
    }
  }
}

/** Every tensor of the description as F32, read from the device when written (BN counters aside). */
export function modelTensors(
  gpu: Gpu,
  desc: ModelDescription,
  params: ParamStore,
): Record<string, TensorToWrite> {
  const tensors: Record<string, TensorToWrite> = {};
  for (const p of desc.params) {
    tensors[p.key] = { dtype: 'F32', shape: p.shape, data: async () => gpu.readF32(params.get(p.key)) };
  }
  return tensors;
}

/**
 * Writes one epoch's checkpoint in commit order: optimizer state, model, config.json, and last the state
 * file, the commit point (checkCheckpointEpochs catches a write interrupted before it).
 */
export async function writeCheckpoint(
  out: string,
  epoch: number,
  files: {
    optimizer: Record<string, TensorToWrite>;
    optimizerMeta: Record<string, string>;
    model: Record<string, TensorToWrite>;
    config: object;
    state: object;
  },
): Promise<void> {
  const e = String(epoch);
  await writeSafetensorsFile(join(out, OPTIMIZER_FILE), files.optimizer, {
    ...files.optimizerMeta,
    epoch: e,
  });
  await writeSafetensorsFile(join(out, MODEL_FILE), files.model, { format: 'pt', epoch: e });
  await writeFileAtomic(join(out, CONFIG_FILE), `${JSON.stringify(files.config, null, 2)}\n`);
  await writeFileAtomic(join(out, STATE_FILE), `${JSON.stringify(files.state, null, 2)}\n`);
}
