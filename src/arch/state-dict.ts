// Does a checkpoint hold exactly the tensors an architecture needs, with the right shapes and finite
// values? Checked before anything is uploaded, so that a wrong file fails with every problem named at once
// rather than as a shape error deep in a forward pass or as NaN accuracy.

import type { TensorStore } from '../io/safetensors.js';
import { StateDictError, type StateDictProblem } from './errors.js';
import type { ModelDescription } from './types.js';
import { inferVggClassifier } from './vgg.js';

const FLOAT_DTYPES: ReadonlySet<string> = new Set(['F32', 'F16', 'BF16', 'F64']);
/** Keys shown when listing missing or unexpected tensors; the count says how many there are in all. */
const SHOWN = 5;
/** Mis-shaped tensors listed one per line before the rest are summed up. */
const SHAPE_LINES = 10;

export interface CheckOptions {
  /** Read every tensor and reject NaN/Inf (and negative running variances); default true. */
  readonly values?: boolean;
}

/**
 * Keys, shapes and dtypes only (the header, no tensor data): every required tensor present with its exact
 * shape and a float dtype, nothing unknown besides BN `num_batches_tracked`. Throws a StateDictError.
 */
export function checkStateDictKeys(desc: ModelDescription, store: TensorStore): void {
  const problems: StateDictProblem[] = [];
  const required = new Set(desc.params.map((p) => p.key));
  const ignored = new Set(desc.ignoredKeys);
  const missing: string[] = [];
  const misShaped: StateDictProblem[] = [];
  for (const p of desc.params) {
    if (!store.has(p.key)) {
      missing.push(p.key);
      continue;
    }
    const { shape, dtype } = store.info(p.key);
    if (shape.length !== p.shape.length || shape.some((d, i) => d !== p.shape[i])) {
      misShaped.push({
        key: p.key,
        message: `shape [${shape.join(', ')}] in the file, expected [${p.shape.join(', ')}]`,
      });
    } else if (!FLOAT_DTYPES.has(dtype)) {
      problems.push({ key: p.key, message: `dtype ${dtype}, expected a float type (F32, F16, BF16 or F64)` });
    }
  }
  problems.unshift(...misShaped.slice(0, SHAPE_LINES));
  if (misShaped.length > SHAPE_LINES) {
    problems.push({ message: `and ${misShaped.length - SHAPE_LINES} more tensors with the wrong shape` });
  }
  if (missing.length === 1) {
    const p = desc.params.find((q) => q.key === missing[0]);
    problems.push({ key: missing[0], message: `missing (expected shape [${p?.shape.join(', ')}])` });
  } else if (missing.length > 1) {
    problems.push({ message: `${missing.length} tensors missing: ${few(missing)}` });
  }
  const unexpected = store
    .keys()
    .filter((k) => !required.has(k) && !ignored.has(k))
    .sort();
  if (unexpected.length > 0) {
    const n = unexpected.length;
    problems.push({
      message: `${n} unexpected tensor${n === 1 ? '' : 's'} (not in ${desc.name}): ${few(unexpected)}`,
    });
  }
  if (problems.length === 0) return;
  for (const hint of hints(desc, store.keys(), missing, unexpected)) problems.push({ message: hint });
  throw new StateDictError(store.name, desc.name, problems);
}

/** `checkStateDictKeys`, then (by default) every value read as float32 and scanned. */
export async function checkStateDict(
  desc: ModelDescription,
  store: TensorStore,
  options: CheckOptions = {},
): Promise<void> {
  checkStateDictKeys(desc, store);
  if (options.values === false) return;
  const problems: StateDictProblem[] = [];
  for (const p of desc.params) {
    const data = await store.float32(p.key, p.shape);
    const bad = badValues(data, p.kind === 'running_var');
    if (bad) problems.push({ key: p.key, message: bad });
  }
  if (problems.length > 0) throw new StateDictError(store.name, desc.name, problems);
}

/** What is wrong with a tensor's values, or undefined; negative values matter only for variances. */
function badValues(data: Float32Array, variance: boolean): string | undefined {
  let nonFinite = 0;
  let negative = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) {
      nonFinite++;
      if (first < 0) first = i;
    } else if (variance && v < 0) negative++;
  }
  if (nonFinite > 0) {
    return `${nonFinite} of ${data.length} values are NaN or infinite (the first, at index ${first}, is ${data[first]})`;
  }
  if (negative > 0) return `${negative} of ${data.length} running variances are negative`;
  return undefined;
}

function few(keys: readonly string[]): string {
  const shown = keys.slice(0, SHOWN).map((k) => `"${k}"`);
  return keys.length > SHOWN ? `${shown.join(', ')}, …` : shown.join(', ');
}

/** Likely causes worth saying when the key sets differ: common ways a valid checkpoint ends up here. */
function hints(
  desc: ModelDescription,
  keys: readonly string[],
  missing: readonly string[],
  unexpected: readonly string[],
): string[] {
  const out: string[] = [];
  if (keys.length > 0 && keys.every((k) => k.startsWith('module.'))) {
    out.push('every key starts with "module." (saved from DataParallel): strip that prefix');
  }
  if (desc.architecture === 'cifar-resnet') {
    const b = (k: string) => k.includes('.shortcut.');
    if (desc.config.shortcut === 'A' && unexpected.some(b)) {
      out.push(
        'the checkpoint has 1x1-conv shortcuts ("shortcut.0"/"shortcut.1"): config.json should say "shortcut": "B"',
      );
    } else if (desc.config.shortcut === 'B' && missing.some(b) && !keys.some(b)) {
      out.push('the checkpoint has no shortcut convs: config.json should say "shortcut": "A"');
    }
  }
  if (desc.architecture === 'vgg') {
    const found = inferVggClassifier(keys);
    if (found !== undefined && found !== desc.net.classifierKind) {
      out.push(
        `its classifier is the '${found}' variant, not '${desc.net.classifierKind}': describe it with vggClassifier: '${found}'`,
      );
    }
  }
  return out;
}
