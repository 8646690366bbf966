// The browser page: pick a model directory and its data (IDX images, or a UTF-8 text for a language model),
// or a bundled demo (the image classifier or the language model), run SGLP on WebGPU with live progress,
// show the report (the same renderer as `sglp prune`'s report.html) and offer the pruned model's files for
// download (progress.ts, results.ts). Files are read in the page; the only requests go to this page's own
// origin (the demos).

import {
  acquireDevice,
  type Gpu,
  type ImageDataset,
  loadIdxSplits,
  loadModel,
  loadTextData,
  type Model,
  type PruneCallOptions,
  prune,
  urlDirectory,
} from '../src/index.js';
import type { Report } from '../src/sglp/report/schema.js';
import { $ } from './dom.js';
import { progressView } from './progress.js';
import { showResult } from './results.js';

/** Images for a classifier, or a text (tokenized with the model's tokenizer when the run starts). */
type Data =
  | { readonly kind: 'images'; readonly train: ImageDataset; readonly test: ImageDataset }
  | { readonly kind: 'text'; readonly name: string; readonly bytes: Blob | Uint8Array };

/** What the page exposes for tests and the curious: the last run's outcome. */
interface PageState {
  status: 'idle' | 'loading' | 'ready' | 'running' | 'done' | 'error' | 'cancelled';
  error?: string;
  report?: Report;
  kept?: number[];
  removed?: number[];
}
const state: PageState = { status: 'idle' };
(globalThis as { sglpWeb?: PageState }).sglpWeb = state;

const DEMO_FILES = [
  'train-images-idx3-ubyte.gz',
  'train-labels-idx1-ubyte.gz',
  't10k-images-idx3-ubyte.gz',
  't10k-labels-idx1-ubyte.gz',
];

let gpuPromise: Promise<Gpu> | undefined;
let model: Model | undefined;
let data: Data | undefined;
let controller: AbortController | undefined;

function gpu(): Promise<Gpu> {
  gpuPromise ??= acquireDevice();
  return gpuPromise;
}

function setStatus(text: string, error = false): void {
  const el = $('loaded');
  el.textContent = text;
  el.className = `status ${error ? 'error' : 'muted'}`;
}

function fail(where: string, err: unknown): void {
  const aborted = err instanceof DOMException && err.name === 'AbortError';
  state.status = aborted ? 'cancelled' : 'error';
  state.error = aborted ? undefined : `${where}: ${(err as Error)?.message ?? err}`;
  setStatus(aborted ? 'Cancelled.' : (state.error as string), !aborted);
  if (!aborted) console.warn(state.error);
  refreshButtons();
}

function refreshButtons(): void {
  const running = state.status === 'running' || state.status === 'loading';
  ($('run') as HTMLButtonElement).disabled = running || !model || !data;
  ($('cancel') as HTMLButtonElement).disabled = state.status !== 'running';
  ($('demo') as HTMLButtonElement).disabled = running;
  ($('demo-lm') as HTMLButtonElement).disabled = running;
}

function describeLoaded(): void {
  const parts: string[] = [];
  if (model) {
    const units = model.desc.units;
    parts.push(
      `Model: ${model.desc.name} (${units.length} units, ${units.filter((u) => u.protected).length} protected, ${(model.desc.paramCount / 1e6).toFixed(3)} M params)`,
    );
  } else parts.push('Model: none yet');
  if (data?.kind === 'images')
    parts.push(
      `data: ${data.train.n} train / ${data.test.n} test images of ${data.train.c}x${data.train.h}x${data.train.w}`,
    );
  else if (data)
    parts.push(
      `data: text ${data.name} (${data.bytes instanceof Blob ? data.bytes.size : data.bytes.length} bytes)`,
    );
  else parts.push('data: none yet');
  setStatus(`${parts.join('; ')}.`);
}

async function setModel(load: () => Promise<Model>): Promise<void> {
  state.status = 'loading';
  refreshButtons();
  try {
    await model?.dispose();
    model = undefined;
    model = await load();
    state.status = 'ready';
    describeLoaded();
  } catch (err) {
    fail('loading the model', err);
  }
  refreshButtons();
}

async function setData(load: () => Promise<Data>): Promise<void> {
  state.status = 'loading';
  refreshButtons();
  try {
    data = await load();
    state.status = 'ready';
    describeLoaded();
  } catch (err) {
    fail('loading the data', err);
  }
  refreshButtons();
}

/**
 * A demo's base URL: ./demo/ (the image classifier) or ./demo-lm/ (the language model) beside the page, or
 * ?demo=URL / ?demo-lm=URL (same origin only) for other demos.
 */
function demoBase(param: 'demo' | 'demo-lm'): URL {
  const given = new URLSearchParams(location.search).get(param);
  const url = new URL(given ?? `${param}/`, location.href);
  if (url.origin !== location.origin)
    throw new Error(`?${param}=${given}: only this page's own origin is read`);
  return url;
}

/** A demo directory: demo.json (what it is, the form's settings), model/, and data/ (IDX files or text.txt). */
async function loadDemo(param: 'demo' | 'demo-lm'): Promise<void> {
  const base = demoBase(param);
  const settings = await fetch(new URL('demo.json', base)).then((r) => {
    if (!r.ok) throw new Error(`${r.url}: HTTP ${r.status}; build the page with \`npm run build:web\``);
    return r.json() as Promise<{
      model?: string;
      data?: string;
      /** The model directory's files, so that loading probes no others (each probe would be a 404). */
      modelFiles?: string[];
      settings?: Record<string, number | string>;
    }>;
  });
  if (settings.model)
    $('demo-note').textContent = `${settings.model}${settings.data ? ` on ${settings.data}` : ''}.`;
  for (const [k, v] of Object.entries(settings.settings ?? {})) {
    const input = ($('form') as HTMLFormElement).elements.namedItem(k) as HTMLInputElement | null;
    if (input) input.value = String(v);
  }
  const modelDir = urlDirectory(new URL('model/', base), fetch, settings.modelFiles);
  await setModel(async () => loadModel(await gpu(), modelDir));
  const dir = urlDirectory(new URL('data/', base));
  if (param === 'demo-lm') {
    await setData(async () => {
      const src = await dir.open('text.txt');
      return { kind: 'text', name: 'demo text', bytes: await src.read(0, src.size) };
    });
    return;
  }
  await setData(async () => {
    const files = new Map<string, Uint8Array>();
    for (const name of DEMO_FILES) {
      const src = await dir.open(name);
      files.set(name, await src.read(0, src.size));
    }
    return { kind: 'images', ...(await loadIdxSplits(files, 'demo data')) };
  });
}

function numberField(form: HTMLFormElement, name: string, min = 1): number | undefined {
  const v = (form.elements.namedItem(name) as HTMLInputElement).value.trim();
  if (v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) {
    throw new Error(`${name}: expected a whole number >= ${min}, got "${v}"`);
  }
  return n;
}

/** The score menu: '' (the default), a score, or GradNorm with its select. */
function scoreField(form: HTMLFormElement): Pick<PruneCallOptions, 'score' | 'select'> {
  const v = (form.elements.namedItem('score') as HTMLSelectElement).value;
  if (v === '') return {};
  if (v === 'gradnorm-min' || v === 'gradnorm-max') {
    return { score: 'gradnorm', select: v === 'gradnorm-min' ? 'min' : 'max' };
  }
  return { score: v as 'loss' | 'similarity' };
}

function readSettings(): PruneCallOptions {
  const form = $('form') as HTMLFormElement;
  const n = (name: string) => numberField(form, name);
  const remove = n('remove');
  if (remove === undefined) throw new Error('give the number of units to remove');
  return {
    target: { remove },
    segments: n('segments'),
    ...scoreField(form),
    recalibrate: numberField(form, 'recalibrate', 0),
    samples: n('samples'),
    batch: n('batch'),
    gradnormBatches: n('gradnormBatches'),
    gradnormBatchSize: n('gradnormBatchSize'),
    maxExhaustive: n('maxExhaustive'),
    evalLimit: n('evalLimit'),
  };
}

/** The run's data: the images, or the text's windows under the model's tokenizer. */
async function runData(m: Model, d: Data) {
  if (d.kind === 'images') return d;
  if (m.kind !== 'causal-lm') throw new Error(`${m.name} is an image classifier: pick IDX files, not a text`);
  const seqLen = numberField($('form') as HTMLFormElement, 'seqLen', 2);
  return loadTextData(m, d.bytes, { name: d.name, seqLen });
}

async function run(): Promise<void> {
  if (!model || !data) return;
  let options: PruneCallOptions;
  try {
    options = readSettings();
  } catch (err) {
    fail('settings', err);
    return;
  }
  controller = new AbortController();
  state.status = 'running';
  state.error = undefined;
  refreshButtons();
  $('progress-card').hidden = false;
  $('result').hidden = true;
  const onProgress = progressView();
  const m = model;
  try {
    const t0 = performance.now();
    const split = await runData(m, data);
    const result = await prune(m, split, { ...options, onProgress, signal: controller.signal });
    await showResult(m, result);
    result.view?.dispose();
    result.finetuned?.dispose();
    $('progress-detail').textContent = `Done in ${((performance.now() - t0) / 1000).toFixed(1)} s.`;
    Object.assign(state, {
      status: 'done',
      report: result.report,
      kept: result.report.kept,
      removed: result.report.removed,
    });
  } catch (err) {
    fail('SGLP', err);
  } finally {
    controller = undefined;
    refreshButtons();
  }
}

async function showAdapter(): Promise<void> {
  try {
    const g = await gpu();
    const a = g.adapter;
    $('adapter').textContent =
      `WebGPU: ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ') || 'adapter'}${a.isCpu ? ' (a CPU adapter: expect minutes)' : ''}`;
  } catch (err) {
    $('adapter').textContent = `WebGPU is not available: ${(err as Error).message}`;
    $('adapter').className = 'status error';
  }
}

$('demo').addEventListener('click', () => {
  loadDemo('demo').catch((err) => fail('the demo', err));
});
$('demo-lm').addEventListener('click', () => {
  loadDemo('demo-lm').catch((err) => fail('the demo', err));
});
$('model-dir').addEventListener('change', async (e) => {
  const files = (e.target as HTMLInputElement).files;
  if (files?.length) await setModel(async () => loadModel(await gpu(), files));
});
$('model-files').addEventListener('change', async (e) => {
  const files = (e.target as HTMLInputElement).files;
  if (files?.length) await setModel(async () => loadModel(await gpu(), files));
});
$('data-files').addEventListener('change', async (e) => {
  const files = (e.target as HTMLInputElement).files;
  if (files?.length)
    await setData(async () => ({ kind: 'images', ...(await loadIdxSplits(files, 'picked data')) }));
});
$('text-file').addEventListener('change', async (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (file) await setData(async () => ({ kind: 'text', name: file.name, bytes: file }));
});
$('run').addEventListener('click', () => void run());
$('cancel').addEventListener('click', () => controller?.abort());
void showAdapter();
refreshButtons();
