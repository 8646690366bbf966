// The pruned architecture (docs/method.md §0): removed residual blocks become the identity and their stage is
// renumbered (`layer1.3` → `layer1.1`); a removed VGG conv is dropped, `features.N` renumbered, and the next
// conv re-initialised (its BN kept) when its input width no longer matches. The result is a config.json
// that io validates and describeModel describes, plus the old → new name of every tensor carried over.

import type { CifarResnetConfig, LlmConfig, ResnetConfig, VggConfig } from '../io/config.js';
import { validateModelConfig } from '../io/config.js';
import { describeModel } from './describe.js';
import { ArchError } from './errors.js';
import type { ModelDescription, ParamSpec, UnitSpec } from './types.js';

/** config.json of a CNN as written to disk: the validated config without io's `kind` tag. */
export type CnnConfigJson =
  | Omit<CifarResnetConfig, 'kind'>
  | Omit<ResnetConfig, 'kind'>
  | Omit<VggConfig, 'kind'>;

/**
 * config.json of a LLaMA-family model as written to disk: the validated config without the fields io adds
 * (`kind`, `architecture`, `family`, `bias`). Fields io's schema does not know are not carried over.
 */
export type LlmConfigJson = Omit<LlmConfig, 'kind' | 'architecture' | 'family' | 'bias'>;

export type ModelConfigJson = CnnConfigJson | LlmConfigJson;

/** A unit whose weights cannot be carried over: its input width changed (VGG only). */
export interface ReinitUnit {
  /** Index and name in the pruned model. */
  readonly unit: number;
  readonly name: string;
  /** Index and name in the original model. */
  readonly oldUnit: number;
  readonly oldName: string;
  readonly reason: string;
  /**
   * The conv's tensors (weight and bias) to initialise afresh (PyTorch's default Conv2d init, seeded:
   * src/sglp/reinit.ts). Its BN keeps the pretrained tensors, whose shapes do not change; keyMap carries
   * them (a choice: the BN's scale and shift still suit the next layer, and scoring runs BN on batch
   * statistics, so only eval mode without fine-tuning sees the old running statistics).
   */
  readonly params: readonly ParamSpec[];
}

export interface PrunedModel {
  /**
   * The new config.json: `blocks` per stage (ResNets), the shorter `layers` list (VGG), or
   * `num_hidden_layers` (LLMs: the kept decoder layers renumbered from 0).
   */
  readonly config: ModelConfigJson;
  /** describeModel of that config. */
  readonly description: ModelDescription;
  /** Removed unit indices of the original model, ascending. */
  readonly removed: readonly number[];
  /** kept[i] = the original index of the pruned model's unit i. */
  readonly kept: readonly number[];
  /** Old key → new key for every tensor carried over unchanged, `num_batches_tracked` included. */
  readonly keyMap: ReadonlyMap<string, string>;
  readonly reinit: readonly ReinitUnit[];
}

/** Prunes `removed` (unit indices of `desc`); refuses protected or unknown units with a message naming them. */
export function pruneModel(desc: ModelDescription, removed: Iterable<number>): PrunedModel {
  const remove = checkRemoval(desc, removed);
  const json = prunedConfig(desc, remove);
  const config = validateModelConfig(json, `config.json of pruned ${desc.name}`);
  const next = describeModel(
    config,
    desc.architecture === 'vgg' ? { vggClassifier: desc.net.classifierKind } : {},
  );
  const kept = desc.units.filter((u) => !remove.has(u.index)).map((u) => u.index);
  if (next.units.length !== kept.length) {
    throw new Error(
      `pruning ${desc.name}: ${kept.length} units kept but the new model has ${next.units.length}`,
    );
  }

  const oldParams = byKey(desc.params);
  const newParams = byKey(next.params);
  const keyMap = new Map<string, string>();
  const reinit: ReinitUnit[] = [];
  kept.forEach((oldIndex, i) => {
    const a = desc.units[oldIndex];
    const b = next.units[i];
    const fits =
      a.keys.length === b.keys.length &&
      a.keys.every((k, j) => sameShape(oldParams.get(k), newParams.get(b.keys[j])));
    if (fits) {
      for (const [j, k] of a.keys.entries()) keyMap.set(k, b.keys[j]);
      for (const [j, k] of a.ignoredKeys.entries()) keyMap.set(k, b.ignoredKeys[j]);
    } else if (desc.architecture === 'vgg') {
      const r = reinitUnit(desc, a, b, kept[i - 1], newParams);
      reinit.push(r);
      const fresh = new Set(r.params.map((q) => q.key));
      for (const [j, k] of a.keys.entries()) {
        if (fresh.has(b.keys[j])) continue;
        if (!sameShape(oldParams.get(k), newParams.get(b.keys[j]))) {
          throw new Error(`pruning ${desc.name}: ${k} → ${b.keys[j]} changes shape`);
        }
        keyMap.set(k, b.keys[j]);
      }
      for (const [j, k] of a.ignoredKeys.entries()) keyMap.set(k, b.ignoredKeys[j]);
    } else {
      // Residual blocks keep their shapes whenever the protected units stay; anything else is a bug here.
      throw new Error(`pruning ${desc.name}: ${a.name} → ${b.name} changes shape`);
    }
  });

  // Tensors outside the units (the final linear / classifier) keep their names and must keep their shapes.
  const inUnits = new Set(desc.units.flatMap((u) => [...u.keys, ...u.ignoredKeys]));
  for (const p of desc.params) {
    if (inUnits.has(p.key)) continue;
    const q = newParams.get(p.key);
    if (!sameShape(p, q)) {
      const names = [...remove]
        .sort((x, y) => x - y)
        .map((r) => desc.units[r].name)
        .join(', ');
      throw new ArchError(
        `cannot remove ${names} from ${desc.name}: "${p.key}" would change from [${p.shape.join(', ')}] to ` +
          `[${q?.shape.join(', ')}], and it is kept as is`,
      );
    }
    keyMap.set(p.key, p.key);
  }
  for (const k of desc.ignoredKeys) if (!inUnits.has(k)) keyMap.set(k, k);

  return {
    config: json,
    description: next,
    removed: [...remove].sort((x, y) => x - y),
    kept,
    keyMap,
    reinit,
  };
}

function checkRemoval(desc: ModelDescription, removed: Iterable<number>): Set<number> {
  const remove = new Set<number>();
  const n = desc.units.length;
  for (const r of removed) {
    if (!Number.isInteger(r) || r < 0 || r >= n) {
      throw new ArchError(`${desc.name} has no unit ${r} (its units are 0 to ${n - 1})`);
    }
    remove.add(r);
  }
  const refused = [...remove].sort((x, y) => x - y).filter((r) => desc.units[r].protected);
  if (refused.length > 0) {
    const lines = refused.map((r) => `unit ${r} (${desc.units[r].name}): ${desc.units[r].protectedReason}`);
    throw new ArchError(
      `cannot remove protected unit${refused.length === 1 ? '' : 's'} of ${desc.name}: ${lines.join('; ')}`,
    );
  }
  if ((desc.architecture === 'vgg' || desc.architecture === 'llama') && remove.size === n) {
    const what = desc.architecture === 'vgg' ? 'convs' : 'decoder layers';
    throw new ArchError(`cannot remove all ${n} ${what} of ${desc.name}: at least one must stay`);
  }
  return remove;
}

function prunedConfig(desc: ModelDescription, remove: ReadonlySet<number>): ModelConfigJson {
  switch (desc.architecture) {
    case 'cifar-resnet':
    case 'resnet': {
      const { kind: _, ...rest } = desc.config;
      const keptIn = (stage: number) =>
        desc.units.filter((u) => u.kind === 'block' && u.stage === stage && !remove.has(u.index)).length;
      return { ...rest, blocks: rest.blocks.map((_b, s) => keptIn(s + 1)) };
    }
    case 'vgg': {
      const { kind: _, ...rest } = desc.config;
      let conv = 0;
      const layers = rest.layers.filter((l) => l === 'M' || !remove.has(conv++));
      return { ...rest, layers };
    }
    case 'llama': {
      const { kind: _k, architecture: _a, family: _f, bias: _b, ...rest } = desc.config;
      return { ...rest, num_hidden_layers: desc.units.length - remove.size };
    }
  }
}

function reinitUnit(
  desc: ModelDescription,
  a: UnitSpec,
  b: UnitSpec,
  previousKept: number | undefined,
  newParams: ReadonlyMap<string, ParamSpec>,
): ReinitUnit {
  const gone = desc.units
    .slice(previousKept === undefined ? 0 : previousKept + 1, a.index)
    .map((u) => u.name);
  return {
    unit: b.index,
    name: b.name,
    oldUnit: a.index,
    oldName: a.name,
    reason: `its input width changes from ${a.input[0]} to ${b.input[0]} with ${gone.join(', ')} removed`,
    // The conv's own tensors; its BN (another prefix) is carried over.
    params: b.keys.filter((k) => k.startsWith(`${b.name}.`)).map((k) => newParams.get(k) as ParamSpec),
  };
}

function byKey(params: readonly ParamSpec[]): Map<string, ParamSpec> {
  return new Map(params.map((p) => [p.key, p]));
}

function sameShape(a: ParamSpec | undefined, b: ParamSpec | undefined): boolean {
  return (
    a !== undefined &&
    b !== undefined &&
    a.shape.length === b.shape.length &&
    a.shape.every((d, i) => d === b.shape[i])
  );
}
