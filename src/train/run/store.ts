// Where a training run keeps its checkpoint: the small interface the run manager (manager.ts) writes
// through, so that the same management serves a directory on disk (src/node/train-run-dir.ts, `sglp train`)
// and memory (memoryRunStore below: browsers, tests). A checkpoint is four files committed as a unit: a
// store shows the whole previous checkpoint or the whole new one, never a mix.

import { serializeSafetensors, type TensorToWrite } from '../../io/safetensors-write.js';
import { type Naming, OPTION_NAMES } from './naming.js';

export type { Naming } from './naming.js';

import { type ByteSource, bytesSource } from '../../io/source.js';

export const STATE_FILE = 'train-state.json';
export const MODEL_FILE = 'model.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const CONFIG_FILE = 'config.json';

/** One epoch's checkpoint; the state file is the commit point. */
export interface CheckpointFiles {
  readonly optimizer: Record<string, TensorToWrite>;
  readonly optimizerMeta: Record<string, string>;
  readonly model: Record<string, TensorToWrite>;
  readonly config: object;
  readonly state: object;
}

export interface OpenHooks {
  /** A line about what an interrupted run left and was repaired (a store on disk). */
  readonly note?: (line: string) => void;
  readonly naming?: Naming;
}

export interface RunStore {
  /** What messages call the run's place: a directory, "memory". */
  readonly name: string;
  /**
   * Checks the store for a new run (it must be empty) or a resumed one (it must hold a state file) and
   * returns the previous run's state, checked by `check`, or undefined for a new run.
   */
  open<S>(
    resume: boolean,
    check: (state: unknown, file: string) => S,
    hooks?: OpenHooks,
  ): Promise<S | undefined>;
  /** Makes the store ready for checkpoints (creates the directory); called once the settings are checked. */
  create(): Promise<void>;
  /** A file of the committed checkpoint. */
  read(file: string): Promise<ByteSource>;
  /** What messages call `file` in the store. */
  where(file: string): string;
  /** Writes epoch `epoch`'s checkpoint as a unit: after it, the store holds all of it or, on error, none. */
  commit(epoch: number, files: CheckpointFiles): Promise<void>;
}

/** JSON files as the checkpoint writes them: two-space indent, a final newline. */
export function jsonText(value: object): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** The bytes of each checkpoint file, in commit order (the state file last). */
export async function checkpointBytes(
  epoch: number,
  files: CheckpointFiles,
): Promise<[string, Uint8Array][]> {
  const e = String(epoch);
  const text = (v: object) => new TextEncoder().encode(jsonText(v));
  return [
    [OPTIMIZER_FILE, await serializeSafetensors(files.optimizer, { ...files.optimizerMeta, epoch: e })],
    [MODEL_FILE, await serializeSafetensors(files.model, { format: 'pt', epoch: e })],
    [CONFIG_FILE, text(files.config)],
    [STATE_FILE, text(files.state)],
  ];
}

/** A run store in memory: a commit builds every file first and replaces the previous checkpoint at once. */
export class MemoryRunStore implements RunStore {
  private committed = new Map<string, Uint8Array>();

  constructor(readonly name = 'memory') {}

  /** The committed files (a copy of the map; the bytes are shared). */
  files(): Map<string, Uint8Array> {
    return new Map(this.committed);
  }

  async open<S>(
    resume: boolean,
    check: (state: unknown, file: string) => S,
    hooks: OpenHooks = {},
  ): Promise<S | undefined> {
    const of = (hooks.naming ?? OPTION_NAMES).of;
    const state = this.committed.get(STATE_FILE);
    if (resume) {
      if (!state) {
        throw new Error(`${of('resume')}: ${this.name} holds no ${STATE_FILE}, so there is no run to resume`);
      }
      return check(JSON.parse(new TextDecoder().decode(state)), this.where(STATE_FILE));
    }
    if (this.committed.size > 0) {
      throw new Error(
        `${this.name} holds a training run: give ${of('resume')} to continue it, or a new store`,
      );
    }
    return undefined;
  }

  async create(): Promise<void> {}

  async read(file: string): Promise<ByteSource> {
    const bytes = this.committed.get(file);
    if (!bytes) throw new Error(`${this.where(file)}: no such file`);
    return bytesSource(bytes, this.where(file));
  }

  where(file: string): string {
    return `${this.name}/${file}`;
  }

  async commit(epoch: number, files: CheckpointFiles): Promise<void> {
    this.committed = new Map(await checkpointBytes(epoch, files));
  }
}
