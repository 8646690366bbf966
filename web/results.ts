// The result card: the summary (accuracy or perplexity, size), the downloads (the exported model's files
// and the report) and the report itself in a frame.

import { exportModel, type Model, type PruneResult } from '../src/index.js';
import { renderReportHtml } from '../src/report/html.js';
import type { Report } from '../src/sglp/report/schema.js';
import { $ } from './dom.js';

const blobUrls: string[] = [];

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

type Metrics = Report['metrics']['before'];

/** The metric card: accuracy for classifiers, perplexity for language models. */
function quality(r: Report): HTMLElement {
  const after = r.metrics.after;
  if ('perplexity' in after) {
    const ppl = (x: Metrics) => ('perplexity' in x ? x.perplexity.toFixed(3) : '–');
    return metric(
      'Perplexity',
      `${ppl(r.metrics.before)} → ${ppl(after)}`,
      `${after.tokens} test tokens, as pruned; no fine-tuning`,
    );
  }
  const pct = (x: Metrics) => ('accuracy' in x ? `${(100 * x.accuracy).toFixed(2)}%` : '–');
  return metric(
    'Accuracy',
    `${pct(r.metrics.before)} → ${pct(after)}` +
      (r.metrics.recalibrated ? ` → ${pct(r.metrics.recalibrated)}` : ''),
    `${after.samples} test images: as pruned${r.metrics.recalibrated ? ', after batch-norm recalibration' : ''}; no fine-tuning`,
  );
}

export async function showResult(m: Model, result: PruneResult): Promise<void> {
  const r = result.report;
  const mega = (x: number) => `${(x / 1e6).toFixed(3)} M`;
  const less = (a: number, b: number) => `−${((100 * (a - b)) / a).toFixed(0)}%`;
  $('summary').replaceChildren(
    metric(
      'Removed',
      `${r.removed.length} of ${r.units.length} units`,
      `${r.segmentation.k} segments (${r.segmentation.kRule})`,
    ),
    quality(r),
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
  // A language model's tokenizer and generation files follow the model's two files.
  const side = [...exported.files].filter(([name]) => name !== 'model.safetensors' && name !== 'config.json');
  $('downloads').replaceChildren(
    download('model.safetensors', exported.safetensors, 'application/octet-stream'),
    download('config.json', exported.config, 'application/json'),
    ...side.map(([name, bytes]) => download(name, bytes, 'application/octet-stream')),
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
