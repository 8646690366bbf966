// The management of a training run, the same for every model family: settings checked and recorded,
// resume from the last committed checkpoint (refusing other settings, naming the fields), one checkpoint
// committed as a unit after every epoch, progress events and an AbortSignal. What depends on the kind of
// model (its data, initialisation, train loop, evaluation, optimizer state) comes from a TrainerFamily
// (image.ts, lm.ts); the files go through a RunStore (store.ts; on disk src/node/train-run-dir.ts).
//
// Resuming repeats the uninterrupted run bit for bit: every random stream is derived from (seed, epoch), so
// the weights, buffers and optimizer state of the checkpoint are all that needs saving.

import type { ModelDescription } from '../../arch/types.js';
import type { Gpu } from '../../gpu/device.js';
import { openSafetensors, type SafetensorsFile } from '../../io/safetensors.js';
import type { TensorToWrite } from '../../io/safetensors-write.js';
import type { ParamStore } from '../../nn/params.js';
import { type Naming, OPTION_NAMES } from './naming.js';
import { type CheckpointFiles, MODEL_FILE, OPTIMIZER_FILE, type RunStore, STATE_FILE } from './store.js';

/** What a train-state.json holds (`kind` only for the families that name it). */
export interface TrainState<S, R> {
  readonly version: 1;
  readonly kind?: string;
  readonly completedEpochs: number;
  readonly step: number;
  readonly stepsPerEpoch: number;
  readonly settings: S;
  readonly history: R[];
}

/** Progress of a training run, for a progress bar and the lines between epochs. */
export type TrainProgress<R = unknown> =
  | { readonly type: 'note'; readonly text: string }
  | { readonly type: 'resume'; readonly after: number; readonly epochs: number }
  /** The model and data, once known (before the first epoch). */
  | {
      readonly type: 'start';
      readonly model: string;
      readonly params: number;
      readonly samples: number;
      readonly stepsPerEpoch: number;
    }
  | {
      readonly type: 'epoch-start' | 'eval-start';
      readonly epoch: number;
      readonly epochs: number;
      /** Steps (eval: batches) in it. */
      readonly steps: number;
      readonly rateUnit: string;
    }
  | {
      readonly type: 'step' | 'eval';
      readonly epoch: number;
      readonly step: number;
      readonly loss: number;
      /** Samples (text: tokens) per second; not given by every evaluation. */
      readonly rate?: number;
    }
  | { readonly type: 'eval-end'; readonly epoch: number }
  /** An epoch trained, evaluated and its checkpoint committed. */
  | { readonly type: 'epoch'; readonly record: R; readonly epochs: number };

export interface RunHooks<R> {
  readonly onProgress?: (p: TrainProgress<R>) => void;
  /** Stops at the next step; the last committed checkpoint stays (resume continues from it). */
  readonly signal?: AbortSignal;
}

/** A run on the device: its loop, evaluation and checkpoint tensors. */
export interface TrainSession<R> {
  /** Trains from `startEpoch`; calls onEpoch with each evaluated epoch's record. */
  run(
    startEpoch: number,
    hooks: RunHooks<R> & { readonly onEpoch: (record: R) => Promise<void> },
  ): Promise<void>;
  /** The checkpoint's tensors after `epoch` (written when the store commits). */
  checkpoint(
    epoch: number,
  ): Pick<CheckpointFiles, 'optimizer' | 'optimizerMeta' | 'model'> & { step: number };
  dispose(): void;
}

/** What a family knows once its settings and data are checked. */
export interface TrainPlan<R> {
  readonly configJson: object;
  readonly stepsPerEpoch: number;
  /** Puts the model and optimizer on the device: initialised, or restored from a checkpoint. */
  start(gpu: Gpu, restore?: { model: SafetensorsFile; optimizer: SafetensorsFile }): Promise<TrainSession<R>>;
}

/** The per-family part of training: settings, data, model, loop and evaluation. */
/** The settings and epoch records every family has. */
export type Settings = { readonly epochs: number };
export type Epoch = { readonly epoch: number };

export interface TrainerFamily<O, D, S extends Settings, R extends Epoch, Res> {
  /** train-state.json's `kind`, for the families that record one. */
  readonly stateKind?: string;
  /** Checks a parsed train-state.json, naming `file`. */
  checkState(state: unknown, file: string): TrainState<S, R>;
  /** The checks that need neither data nor store, run first. */
  check(options: O, naming: Naming): void;
  /** The data the run uses of the data given (the first `limit` samples, say). */
  prepare?(options: O, data: D): D;
  /** Every setting that changes the result, in train-state.json's order. */
  settings(options: O, data: D, naming: Naming): S;
  plan(settings: S, data: D, naming: Naming): TrainPlan<R>;
  /** The result after the last epoch, `last` (the end of `history`). */
  result(settings: S, history: R[], last: R): Res;
}

export interface RunOptions<O, D> {
  readonly options: O;
  /** The data, or how to load it (after the store is checked, so a wrong place fails first). */
  readonly data: D | (() => Promise<D>);
  readonly resume?: boolean;
  readonly store: RunStore;
  /** The device, or how to get one (after every check). */
  readonly gpu: Gpu | (() => Promise<Gpu>);
  readonly naming?: Naming;
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

/** Throws unless `resume`'s settings equal the previous run's, naming every field that differs. */
function checkSameSettings<S>(
  previous: S,
  settings: S,
  fields: string[],
  store: RunStore,
  naming: Naming,
): void {
  const prev = previous as Record<string, unknown>;
  const now = settings as Record<string, unknown>;
  const differ = fields.filter((k) => JSON.stringify(prev[k]) !== JSON.stringify(now[k]));
  if (differ.length === 0) return;
  const what = differ.map(
    (k) => `${naming.of(k)} ${JSON.stringify(prev[k])} (now ${JSON.stringify(now[k])})`,
  );
  throw new Error(
    `${naming.of('resume')}: the run in ${store.name} used other settings: ${what.join(', ')}; ` +
      `repeat the original ${naming.kind}`,
  );
}

/** Opens a committed checkpoint file, checking that it holds `epoch`. */
async function openEpoch(store: RunStore, file: string, epoch: number, naming: Naming) {
  const src = await store.read(file);
  const st = await openSafetensors(src);
  const got = st.metadata?.epoch;
  if (got !== String(epoch)) {
    await src.close?.();
    throw new Error(
      `${naming.of('resume')}: ${store.where(file)} holds epoch ${got ?? '?'} but ${STATE_FILE} says ${epoch} ` +
        '(a write was interrupted; start again)',
    );
  }
  return { src, st };
}

/** Starts the session, restoring the previous run's checkpoint when there is one. */
async function startSession<S, R>(
  gpu: Gpu,
  plan: TrainPlan<R>,
  store: RunStore,
  previous: TrainState<S, R> | undefined,
  naming: Naming,
): Promise<TrainSession<R>> {
  if (!previous) return plan.start(gpu);
  const model = await openEpoch(store, MODEL_FILE, previous.completedEpochs, naming);
  try {
    const optimizer = await openEpoch(store, OPTIMIZER_FILE, previous.completedEpochs, naming);
    try {
      return await plan.start(gpu, { model: model.st, optimizer: optimizer.st });
    } finally {
      await optimizer.src.close?.();
    }
  } finally {
    await model.src.close?.();
  }
}

/** Runs (or resumes) one training run of `family`; returns the family's result after the last epoch. */
export async function runTraining<O, D, S extends Settings, R extends Epoch, Res>(
  family: TrainerFamily<O, D, S, R, Res>,
  run: RunOptions<O, D>,
  hooks: RunHooks<R> = {},
): Promise<Res> {
  const naming = run.naming ?? OPTION_NAMES;
  const { store } = run;
  const emit = (p: TrainProgress<R>) => hooks.onProgress?.(p);
  family.check(run.options, naming);
  const previous = await store.open(!!run.resume, (s, f) => family.checkState(s, f), {
    naming,
    note: (text) => emit({ type: 'note', text }),
  });
  const given = typeof run.data === 'function' ? await (run.data as () => Promise<D>)() : run.data;
  const data = family.prepare ? family.prepare(run.options, given) : given;
  const settings = family.settings(run.options, data, naming);
  if (previous) {
    const fields = new Set([...Object.keys(previous.settings), ...Object.keys(settings)]);
    checkSameSettings(previous.settings, settings, [...fields], store, naming);
  }
  const plan = family.plan(settings, data, naming);
  const { epochs } = settings;
  await store.create();

  const gpu = typeof run.gpu === 'function' ? await run.gpu() : run.gpu;
  const session = await startSession(gpu, plan, store, previous, naming);
  try {
    const history: R[] = previous ? [...previous.history] : [];
    if (previous) emit({ type: 'resume', after: previous.completedEpochs, epochs });
    await session.run(previous?.completedEpochs ?? 0, {
      signal: hooks.signal,
      onProgress: hooks.onProgress,
      onEpoch: async (record) => {
        history.push(record);
        const { epoch } = record;
        const { step, ...tensors } = session.checkpoint(epoch);
        const state: TrainState<S, R> = {
          version: 1,
          ...(family.stateKind !== undefined ? { kind: family.stateKind } : {}),
          completedEpochs: epoch,
          step,
          stepsPerEpoch: plan.stepsPerEpoch,
          settings,
          history,
        };
        await store.commit(epoch, { ...tensors, config: plan.configJson, state });
        emit({ type: 'epoch', record, epochs });
      },
    });
    const last = history.at(-1);
    if (last === undefined) throw new Error('internal: no epoch was trained');
    return family.result(settings, history, last);
  } finally {
    session.dispose();
  }
}
