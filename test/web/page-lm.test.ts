// The browser page on a language model: headless Chromium loads models/fortunes-llama12 and a fortunes text
// through the "bundled language model" button (a demo directory served beside the page) and from picked
// files, runs SGLP on WebGPU, and must remove the decoder layers the library removes in Node on the same
// model, text and settings, and download the same config.json and model.safetensors bytes (a pruned LM's
// kept tensors are the checkpoint's bytes, whatever device chose them).
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportModel, loadTextData, prune } from '../../src/index.js';
import { loadModelDir } from '../../src/node/api.js';
import type { Report } from '../../src/sglp/report/schema.js';
import { useGpu } from '../helpers/gpu.js';
import { ROOT } from '../helpers/runtimes.js';
import { launchChromium, serveDirs } from './harness.js';

const MODEL = path.join(ROOT, 'models', 'fortunes-llama12');
const FORTUNES = '/usr/share/games/fortunes/cookie';
/** A reduced text protocol, to fit a CPU adapter in Chromium (SwiftShader). */
const SETTINGS = {
  remove: 6,
  samples: 8,
  batch: 4,
  gradnormBatches: 1,
  gradnormBatchSize: 4,
  maxExhaustive: 2000,
  evalLimit: 8,
  seqLen: 64,
};
/** The first 40,000 bytes of the fortunes, cut at a line end (UTF-8 intact). */
const TEXT_BYTES = 40_000;
const RUN_TIMEOUT_MS = 300_000;
const have = existsSync(FORTUNES);

const getGpu = useGpu();
let scratch = '';
let server: Server | undefined;
let origin = '';
let browser: Browser | undefined;
let nodeReport: Report;
let nodeFiles: ReadonlyMap<string, Uint8Array>;

interface PageState {
  status: string;
  error?: string;
  removed?: number[];
}

beforeAll(async () => {
  if (!have) return;
  scratch = mkdtempSync(path.join(tmpdir(), 'sglp-web-lm-'));
  const site = path.join(scratch, 'site');
  execFileSync(process.execPath, ['scripts/build-web.mjs', '--no-demo', '--out', site], {
    cwd: ROOT,
    stdio: 'pipe',
  });
  const demo = path.join(scratch, 'lm');
  mkdirSync(path.join(demo, 'model'), { recursive: true });
  mkdirSync(path.join(demo, 'data'), { recursive: true });
  for (const f of ['config.json', 'model.safetensors'])
    copyFileSync(path.join(MODEL, f), path.join(demo, 'model', f));
  const all = readFileSync(FORTUNES);
  const text = all.subarray(0, all.lastIndexOf(10, TEXT_BYTES) + 1);
  writeFileSync(path.join(demo, 'data', 'text.txt'), text);
  writeFileSync(
    path.join(demo, 'demo.json'),
    JSON.stringify({
      model: 'fortunes-llama12',
      data: 'fortunes',
      modelFiles: ['config.json', 'model.safetensors'],
      settings: SETTINGS,
    }),
  );

  // The same model, text and settings through the library in Node.
  const model = await loadModelDir(await getGpu(), MODEL);
  try {
    if (model.kind !== 'causal-lm') throw new Error(`${MODEL}: not a language model`);
    const data = await loadTextData(model, new Uint8Array(text), {
      name: 'demo text',
      seqLen: SETTINGS.seqLen,
    });
    const { seqLen: _, remove, ...rest } = SETTINGS;
    const r = await prune(model, data, { ...rest, target: { remove } });
    nodeReport = r.report;
    nodeFiles = (await exportModel(model, r)).files;
    r.view?.dispose();
  } finally {
    await model.dispose();
  }
  ({ server, origin } = await serveDirs({ '/': site, '/lm/': demo }));
  browser = await launchChromium();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** Runs the loaded model, then checks the removed layers and the two model files against Node's. */
async function runAndCompare(page: Page, problems: string[], tag: string): Promise<void> {
  await page.waitForSelector('#run:not([disabled])');
  await page.click('#run');
  await page.waitForFunction(() => {
    const s = (window as unknown as { sglpWeb: PageState }).sglpWeb.status;
    return s === 'done' || s === 'error' || s === 'cancelled';
  });
  const state = await page.evaluate(() => {
    const { status, error, removed } = (window as unknown as { sglpWeb: PageState }).sglpWeb;
    return { status, error, removed };
  });
  expect(state.error, 'the page reported an error').toBeUndefined();
  expect(state.status).toBe('done');
  expect(state.removed).toEqual(nodeReport.removed);
  expect(await page.locator('#summary').textContent()).toContain('Perplexity');
  for (const name of ['model.safetensors', 'config.json']) {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click(`#downloads a[download="${name}"]`),
    ]);
    const file = path.join(scratch, `${tag}-${name}`);
    await download.saveAs(file);
    const mine = nodeFiles.get(name) as Uint8Array;
    expect(Buffer.compare(readFileSync(file), Buffer.from(mine)), `${tag}: ${name}`).toBe(0);
  }
  expect(problems).toEqual([]);
}

function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.setDefaultTimeout(RUN_TIMEOUT_MS);
  return problems;
}

describe.skipIf(!have)('web page on a language model', () => {
  it(
    'prunes fortunes-llama12 from its button as Node does, byte for byte',
    async () => {
      const page = await (browser as Browser).newPage();
      const problems = watch(page);
      await page.goto(`${origin}/?demo-lm=/lm/`);
      await page.click('#demo-lm');
      await page.waitForFunction(() =>
        /text demo text/.test(document.getElementById('loaded')?.textContent ?? ''),
      );
      await runAndCompare(page, problems, 'button');
      await page.close();
    },
    RUN_TIMEOUT_MS + 60_000,
  );

  it(
    'prunes fortunes-llama12 from picked model files and a picked text',
    async () => {
      const page = await (browser as Browser).newPage();
      const problems = watch(page);
      await page.goto(`${origin}/`);
      const demo = path.join(scratch, 'lm');
      await page.setInputFiles(
        '#model-files',
        ['config.json', 'model.safetensors'].map((f) => path.join(demo, 'model', f)),
      );
      await page.waitForFunction(() => /12 units/.test(document.getElementById('loaded')?.textContent ?? ''));
      await page.setInputFiles('#text-file', path.join(demo, 'data', 'text.txt'));
      await page.waitForFunction(() =>
        /text text\.txt/.test(document.getElementById('loaded')?.textContent ?? ''),
      );
      for (const [name, value] of Object.entries(SETTINGS)) {
        await page.fill(`#form [name="${name}"]`, String(value));
      }
      await runAndCompare(page, problems, 'picked');
      await page.close();
    },
    RUN_TIMEOUT_MS + 60_000,
  );
});
