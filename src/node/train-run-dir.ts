// The --out directory of a training run, shared by `sglp train` for images and for language models: a
// new run needs a new or empty directory, --resume needs the state file a previous run left, and the
// checkpoint files must hold the epoch the state says (an interrupted write is caught, never resumed).
//
// A checkpoint is written as a unit: its four files go into a staging directory inside --out, which is
// renamed to READY_DIR once all are complete (the commit point), and only then are the files moved over
// the previous ones, the state file last. A run killed before the commit leaves the previous checkpoint
// whole (its staging directory is removed by the next run); one killed after it leaves READY_DIR, whose
// moves the next run finishes. Either way --resume finds one complete checkpoint, byte for byte.
//
// runDirectory(out) is the RunStore the run manager (src/train/run/manager.ts) commits checkpoints through
// for `sglp train` and Node scripts: the management is portable, only the files are here, because only
// node/ touches the file system (docs/architecture.md, "Layers").

import { mkdir, readdir, rename, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openSafetensors } from '../io/safetensors.js';
import type { ByteSource } from '../io/source.js';
import {
  type CheckpointFiles,
  CONFIG_FILE,
  jsonText,
  MODEL_FILE,
  type Naming,
  OPTIMIZER_FILE,
  type OpenHooks,
  type RunStore,
  STATE_FILE,
} from '../train/run/store.js';
import {
  isNotFound,
  openFileSource,
  plainFsError,
  readJsonFile,
  syncDirectory,
  writeFileAtomic,
  writeSafetensorsFile,
} from './files.js';
import { checkOutLocation, makeParents } from './out-location.js';
import { cleanStaleStaging, stageDirectory } from './staging.js';

export { CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE, STATE_FILE };
/** A complete checkpoint whose files are being moved into place. */
export const READY_DIR = '.checkpoint.ready';
/** The name staging.ts derives the checkpoint's staging directory from (inside --out). */
const CHECKPOINT_NAME = 'checkpoint';
/** The order the files of a ready checkpoint are moved in: the state file, the commit point, last. */
const COMMIT_ORDER = [OPTIMIZER_FILE, MODEL_FILE, CONFIG_FILE, STATE_FILE];

/**
 * Checks `out` for a new run or a resumed one and returns the previous run's state (undefined for a new
 * run). `check` validates the parsed state file and returns it typed, or throws naming the file.
 */
export async function openRunDir<S>(
  out: string,
  resume: boolean,
  check: (state: unknown, file: string) => S,
  note: (line: string) => void = () => {},
  naming: Naming = FLAG_NAMES,
): Promise<S | undefined> {
  const { of } = naming;
  for (const line of await recoverCheckpoint(out)) note(line);
  if (resume) {
    const file = join(out, STATE_FILE);
    const state = await readJsonFile(file);
    if (state === undefined) {
      throw new Error(
        `${of('resume')}: ${out} holds no ${STATE_FILE}, so there is no run to resume (drop ${of('resume')} to start one)`,
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
      ? ` (it holds a training run: add ${of('resume')} to continue it)`
      : '';
    const where = naming.kind === 'flags' ? `${of('out')} ${out}` : out;
    throw new Error(`${where} is not empty${hint}; give a new or empty directory`);
  }
  for (const line of await checkOutLocation(out, { kind: 'dir' })) note(line);
  return undefined;
}

/** Creates --out (and its missing parents, one level at a time: preflight.ts) for a new run. */
export async function createRunDir(out: string): Promise<void> {
  await makeParents(out);
  try {
    await mkdir(out);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw plainFsError(err, out);
  }
}

/**
 * Finishes or removes what an interrupted checkpoint write left in `out` and says what was done: a ready
 * checkpoint's files are moved into place; a staging directory of a run that is gone is removed.
 */
export async function recoverCheckpoint(out: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(out);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw plainFsError(err, out);
  }
  const notes = entries.some((e) => e.startsWith(`.${CHECKPOINT_NAME}.sglp-staging-`))
    ? (await cleanStaleStaging(join(out, CHECKPOINT_NAME), '--out')).map((l) =>
        l.replace('the unfinished result', 'the unfinished checkpoint'),
      )
    : [];
  if (entries.includes(READY_DIR)) {
    await moveReady(out);
    notes.push(`finished saving the checkpoint an interrupted run had completed in ${out}`);
  }
  return notes;
}

async function moveReady(out: string): Promise<void> {
  const ready = join(out, READY_DIR);
  const names = await readdir(ready);
  const order = (n: string) => (COMMIT_ORDER.includes(n) ? COMMIT_ORDER.indexOf(n) : -1);
  for (const name of names.sort((a, b) => order(a) - order(b))) {
    try {
      await rename(join(ready, name), join(out, name));
    } catch (err) {
      throw plainFsError(err, join(out, name));
    }
  }
  await rmdir(ready);
  await syncDirectory(out);
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

/**
 * Writes one epoch's checkpoint in commit order: optimizer state, model, config.json, and last the state
 * file, the commit point (checkCheckpointEpochs catches a write interrupted before it).
 */
export async function writeCheckpoint(out: string, epoch: number, files: CheckpointFiles): Promise<void> {
  const e = String(epoch);
  const staged = await stageDirectory(join(out, CHECKPOINT_NAME));
  try {
    const dir = staged.path;
    await writeSafetensorsFile(join(dir, OPTIMIZER_FILE), files.optimizer, {
      ...files.optimizerMeta,
      epoch: e,
    });
    await writeSafetensorsFile(join(dir, MODEL_FILE), files.model, { format: 'pt', epoch: e });
    await writeFileAtomic(join(dir, CONFIG_FILE), jsonText(files.config));
    await writeFileAtomic(join(dir, STATE_FILE), jsonText(files.state));
    await syncDirectory(dir);
    // The commit point: from here the checkpoint is complete and recoverCheckpoint finishes it.
    await rename(dir, join(out, READY_DIR));
    await syncDirectory(out);
  } catch (err) {
    await staged.discard();
    throw plainFsError(err, out, 'saving the checkpoint in');
  }
  await staged.discard(); // forgets the (renamed) staging directory
  await moveReady(out);
}

/** The command line's names of the options these messages mention. */
const FLAG_NAMES: Naming = { of: (field) => `--${field}`, kind: 'flags' };

/** The run store of a directory on disk: `sglp train --out DIR`, or a Node script's. */
export function runDirectory(out: string): RunStore {
  return {
    name: out,
    open<S>(resume: boolean, check: (state: unknown, file: string) => S, hooks: OpenHooks = {}) {
      return openRunDir(out, resume, check, hooks.note, hooks.naming);
    },
    create: () => createRunDir(out),
    read: (file: string): Promise<ByteSource> => openFileSource(join(out, file)),
    where: (file: string) => join(out, file),
    commit: (epoch: number, files: CheckpointFiles) => writeCheckpoint(out, epoch, files),
  };
}
