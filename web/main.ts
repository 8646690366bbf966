// The browser page: pick a model directory and IDX data (or the bundled demo), run SGLP on WebGPU with live
// progress, show the report (the same renderer as `sglp prune`'s report.html) and offer the pruned model
// for download. Files are read in the page; the only requests go to this page's own origin (the demo).

import {
  acquireDevice,
  exportModel,
  type Gpu,
  type ImageDataset,
  loadIdxSplits,
  loadModel,
  type Model,
  type PruneCallOptions,
  type PruneProgress,
  type PruneResult,
  prune,
  urlDirectory,
} from '../src/index.js';
import { renderReportHtml } from '../src/report/html.js';
import type { Report } from '../src/report/schema.js';

type Data = { train: ImageDataset; test: ImageDataset };

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

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
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
const blobUrls: string[] = [];

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
}

function describeLoaded(): void {
  const parts: string[] = [];
  if (model) {
    const units = model.desc.units;
    parts.push(
      `Model: ${model.desc.name} (${units.length} units, ${units.filter((u) => u.protected).length} protected, ${(model.desc.paramCount / 1e6).toFixed(3)} M params)`,
    );
  } else parts.push('Model: none yet');
  if (data)
    parts.push(
      `data: ${data.train.n} train / ${data.test.n} test images of ${data.train.c}x${data.train.h}x${data.train.w}`,
    );
  else parts.push('data: none yet');
  setStatus(`${parts.join('; ')}.`);
}

async function setModel(load: () => Promise<Model>): Promise<void> {
  state.status = 'loading';
  refreshButtons();
  try {
    model?.dispose();
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

/** The demo's base URL: ./demo/ beside the page, or ?demo=URL (same origin only) for other demos. */
function demoBase(): URL {
  const given = new URLSearchParams(location.search).get('demo');
  const url = new URL(given ?? 'demo/', location.href);
  if (url.origin !== location.origin) throw new Error(`?demo=${given}: only this page's own origin is read`);
  return url;
}

async function loadDemo(): Promise<void> {
  const base = demoBase();
  const settings = await fetch(new URL('demo.json', base)).then((r) => {
    if (!r.ok) throw new Error(`${r.url}: HTTP ${r.status}; build the page with \`npm run build:web\``);
    return r.json() as Promise<{ model?: string; data?: string; settings?: Record<string, number | string> }>;
  });
  if (settings.model)
    $('demo-note').textContent = `${settings.model}${settings.data ? ` on ${settings.data}` : ''}.`;
  for (const [k, v] of Object.entries(settings.settings ?? {})) {
    const input = ($('form') as HTMLFormElement).elements.namedItem(k) as HTMLInputElement | null;
    if (input) input.value = String(v);
  }
  await setModel(async () => loadModel(await gpu(), new URL('model/', base)));
  await setData(async () => {
    const dir = urlDirectory(new URL('data/', base));
    const files = new Map<string, Uint8Array>();
    for (const name of DEMO_FILES) {
      const src = await dir.open(name);
      files.set(name, await src.read(0, src.size));
    }
    return loadIdxSplits(files, 'demo data');
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

const STAGES: [PruneProgress['stage'], string][] = [
  ['features', 'Calibration + CKA'],
  ['importance', 'Selection inside the segments'],
  ['eval-before', 'Accuracy before'],
  ['eval-after', 'Accuracy as pruned'],
  ['recalibrate', 'Batch-norm recalibration'],
  ['eval-recalibrated', 'Accuracy after recalibration'],
];

function progressView(): (p: PruneProgress) => void {
  const box = $('stages');
  box.replaceChildren();
  const rows = new Map<string, { row: HTMLElement; bar: HTMLElement; count: HTMLElement }>();
  for (const [stage, label] of STAGES) {
    const row = document.createElement('div');
    row.className = 'stage';
    row.dataset.stage = stage;
    const name = document.createElement('span');
    name.textContent = label;
    const track = document.createElement('div');
    track.className = 'bar';
    const bar = document.createElement('div');
    track.append(bar);
    const count = document.createElement('span');
    count.className = 'count';
    count.textContent = '–';
    row.append(name, track, count);
    box.append(row);
    rows.set(stage, { row, bar, count });
  }
  let searchDone = 0;
  return (p) => {
    const r = rows.get(p.stage);
    if (p.stage === 'importance') {
      searchDone++;
      $('progress-detail').textContent = `${p.detail ?? ''}: ${p.done}/${p.total} candidates`;
    }
    if (p.stage.startsWith('eval')) rows.get('importance')?.row.classList.add('done');
    if (!r) return;
    r.bar.style.width = `${(100 * p.done) / Math.max(1, p.total)}%`;
    r.count.textContent = p.stage === 'importance' ? `${searchDone} scored` : `${p.done}/${p.total}`;
    if (p.done === p.total && p.stage !== 'importance') r.row.classList.add('done');
  };
}

function download(name: string, bytes: Uint8Array | string, type: string): HTMLAnchorElement {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
  blobUrls.push(url);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.className = 'download';
  a.textContent = `⤓ ${name}`;
  return a;
}

function metric(k: string, v: string, s: string): HTMLElement {
  const el = document.createElement('div');
  el.className = 'metric';
  for (const [cls, text] of [
    ['k', k],
    ['v', v],
    ['s', s],
  ]) {
    const d = document.createElement('div');
    d.className = cls;
    d.textContent = text;
    el.append(d);
  }
  return el;
}

async function showResult(m: Model, result: PruneResult): Promise<void> {
  const r = result.report;
  const pct = (x: Report['metrics']['before']) =>
    'accuracy' in x ? `${(100 * x.accuracy).toFixed(2)}%` : '–';
  const samples = 'samples' in r.metrics.after ? r.metrics.after.samples : 0;
  const mega = (x: number) => `${(x / 1e6).toFixed(3)} M`;
  const less = (a: number, b: number) => `−${((100 * (a - b)) / a).toFixed(0)}%`;
  $('summary').replaceChildren(
    metric(
      'Removed',
      `${r.removed.length} of ${r.units.length} units`,
      `${r.segmentation.k} segments (${r.segmentation.kRule})`,
    ),
    metric(
      'Accuracy',
      `${pct(r.metrics.before)} → ${pct(r.metrics.after)}` +
        (r.metrics.recalibrated ? ` → ${pct(r.metrics.recalibrated)}` : ''),
      `${samples} test images: as pruned${r.metrics.recalibrated ? ', after batch-norm recalibration' : ''}; no fine-tuning`,
    ),
    metric(
      'Params',
      `${mega(r.size.paramsBefore)} → ${mega(r.size.paramsAfter)}`,
      less(r.size.paramsBefore, r.size.paramsAfter),
    ),
    metric(
      'MACs',
      `${mega(r.size.macsBefore)} → ${mega(r.size.macsAfter)}`,
      less(r.size.macsBefore, r.size.macsAfter),
    ),
  );
  for (const u of blobUrls.splice(0)) URL.revokeObjectURL(u);
  const html = renderReportHtml(r);
  const exported = await exportModel(m, result);
  $('downloads').replaceChildren(
    download('model.safetensors', exported.safetensors, 'application/octet-stream'),
    download('config.json', exported.config, 'application/json'),
    download('sglp-report.json', `${JSON.stringify(r, null, 2)}\n`, 'application/json'),
    download('report.html', html, 'text/html'),
  );
  const frame = $('report') as HTMLIFrameElement;
  // Not sandboxed: the report is this page's own escaped rendering, and a same-origin frame can be sized to fit.
  frame.onload = () => {
    const doc = frame.contentDocument;
    if (doc) frame.style.height = `${doc.documentElement.scrollHeight + 4}px`;
  };
  frame.srcdoc = html;
  $('result').hidden = false;
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
    const result = await prune(m, data, { ...options, onProgress, signal: controller.signal });
    await showResult(m, result);
    result.view.dispose();
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
  loadDemo().catch((err) => fail('the demo', err));
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
  if (files?.length) await setData(() => loadIdxSplits(files, 'picked data'));
});
$('run').addEventListener('click', () => void run());
$('cancel').addEventListener('click', () => controller?.abort());
void showAdapter();
refreshButtons();
