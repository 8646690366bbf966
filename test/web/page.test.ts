// The browser page end to end (issue 6 item 2): the page is built (scripts/build-web.mjs) into a scratch
// directory and served on 127.0.0.1 with a tiny demo (the tiny-model fixture and its IDX data); headless
// Chromium opens it, loads the demo through the "bundled demo model" button, runs SGLP with live
// progress, and must draw the report's CKA heatmap, offer the pruned files for download, and keep the
// same units as the library in Node on the same model and data. The screenshot goes to
// test-artifacts/web-prune.png for people to look at.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportModel, loadIdxSplits, prune } from '../../src/index.js';
import { loadModelDir } from '../../src/node/api.js';
import type { Report } from '../../src/sglp/report/schema.js';
import { expectSameExport } from '../helpers/export-compare.js';
import { useGpu } from '../helpers/gpu.js';
import { writeTinyMnist, writeTinyModel } from '../helpers/tiny-model.js';
import { launchChromium, serveDirs } from './harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ARTIFACT = path.join(ROOT, 'test-artifacts', 'web-prune.png');
/** The page's settings for the tiny demo, and the same for the Node run. */
const SETTINGS = {
  remove: 3,
  segments: '',
  select: 'min',
  samples: 40,
  batch: 20,
  gradnormBatches: 2,
  gradnormBatchSize: 8,
  maxExhaustive: 2000,
  evalLimit: 30,
};
const RUN_TIMEOUT_MS = 240_000;

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
  kept?: number[];
  removed?: number[];
  report?: Report;
}

beforeAll(async () => {
  scratch = mkdtempSync(path.join(tmpdir(), 'sglp-web-'));
  const site = path.join(scratch, 'site');
  execFileSync(process.execPath, ['scripts/build-web.mjs', '--no-demo', '--out', site], {
    cwd: ROOT,
    stdio: 'pipe',
  });
  const demo = path.join(scratch, 'tiny');
  mkdirSync(path.join(demo, 'model'), { recursive: true });
  mkdirSync(path.join(demo, 'data'), { recursive: true });
  await writeTinyModel(path.join(demo, 'model'));
  await writeTinyMnist(path.join(demo, 'data'), 64, 30);
  writeFileSync(
    path.join(demo, 'demo.json'),
    JSON.stringify({
      model: 'tiny ResNet-20 (random weights)',
      data: 'synthetic 8x8 images',
      settings: SETTINGS,
    }),
  );

  // The same model and data through the library in Node.
  const model = await loadModelDir(await getGpu(), path.join(demo, 'model'));
  try {
    const names = [
      'train-images-idx3-ubyte.gz',
      'train-labels-idx1-ubyte.gz',
      't10k-images-idx3-ubyte.gz',
      't10k-labels-idx1-ubyte.gz',
    ];
    const data = await loadIdxSplits(
      new Map(names.map((n) => [n, new Uint8Array(readFileSync(path.join(demo, 'data', n)))])),
      'tiny',
    );
    const r = await prune(model, data, {
      target: { remove: SETTINGS.remove },
      samples: SETTINGS.samples,
      batch: SETTINGS.batch,
      gradnormBatches: SETTINGS.gradnormBatches,
      gradnormBatchSize: SETTINGS.gradnormBatchSize,
      maxExhaustive: SETTINGS.maxExhaustive,
      evalLimit: SETTINGS.evalLimit,
    });
    nodeReport = r.report;
    nodeFiles = (await exportModel(model, r)).files;
    r.view?.dispose();
  } finally {
    model.dispose();
  }
  ({ server, origin } = await serveDirs({ '/': site, '/tiny/': demo }));
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('web page', () => {
  it(
    'runs the demo on a tiny model, draws the heatmap and keeps the units Node keeps',
    async () => {
      const page = await (browser as Browser).newPage({ viewport: { width: 1200, height: 900 } });
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
      page.on('request', (r) => requests.push(r.url()));
      page.on('response', (r) => {
        if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
      });
      page.setDefaultTimeout(RUN_TIMEOUT_MS);
      await page.goto(`${origin}/?demo=/tiny/`);
      await page.click('#demo');
      await page.waitForFunction(() => {
        const s = (window as unknown as { sglpWeb: PageState }).sglpWeb;
        return s.status === 'ready' || s.status === 'error';
      });
      await page.waitForSelector('#run:not([disabled])');
      await page.click('#run');
      // Live progress: the calibration bar fills before the run ends.
      await page.waitForSelector('.stage[data-stage="features"].done');
      await page.waitForFunction(() => {
        const s = (window as unknown as { sglpWeb: PageState }).sglpWeb.status;
        return s === 'done' || s === 'error' || s === 'cancelled';
      });
      const state = await page.evaluate(() => {
        const { status, error, kept, removed } = (window as unknown as { sglpWeb: PageState }).sglpWeb;
        return { status, error, kept, removed };
      });
      expect(state.error, 'the page reported an error').toBeUndefined();
      expect(state.status).toBe('done');
      // CKA from Chromium's WebGPU (SwiftShader) and Node's (Dawn on lavapipe): f32 Grams, fixed orders.
      const ckaWorst = await page.evaluate((ref) => {
        const m = (window as unknown as { sglpWeb: PageState }).sglpWeb.report?.cka.matrix ?? [];
        let worst = m.length === ref.length ? 0 : Number.POSITIVE_INFINITY;
        m.forEach((row, i) => {
          row.forEach((v, j) => {
            worst = Math.max(worst, Math.abs(v - ref[i][j]));
          });
        });
        return worst;
      }, nodeReport.cka.matrix);
      console.log(`[web] worst |CKA chromium - CKA node| = ${ckaWorst.toExponential(2)}`);
      expect(ckaWorst).toBeLessThanOrEqual(1e-5);
      expect(state.kept).toEqual(nodeReport.kept);
      expect(state.removed).toEqual(nodeReport.removed);

      // The report in its frame: one heatmap cell per pair of units, one box per segment.
      const frame = page.frameLocator('#report');
      const L = nodeReport.units.length;
      await frame.locator('#cka-heatmap').waitFor();
      expect(await frame.locator('#cka-heatmap .cells rect').count()).toBe(L * L);
      expect(await frame.locator('#cka-heatmap .segment-box').count()).toBe(nodeReport.segmentation.k);
      const summary = await page.locator('#summary').textContent();
      expect(summary).toContain(`${nodeReport.removed.length} of ${L} units`);
      const downloads = await page
        .locator('#downloads a')
        .evaluateAll((as) => as.map((a) => a.getAttribute('download')));
      expect(downloads).toEqual(['model.safetensors', 'config.json', 'sglp-report.json', 'report.html']);
      // The downloads are the files Node exports for the same pruning: the same tensors byte for byte,
      // except the recalibrated BN statistics, which each device computed in its own f32 rounding.
      for (const name of ['model.safetensors', 'config.json']) {
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.click(`#downloads a[download="${name}"]`),
        ]);
        const file = path.join(scratch, `downloaded-${name}`);
        await download.saveAs(file);
        const mine = nodeFiles.get(name) as Uint8Array;
        if (name === 'config.json')
          expect(Buffer.compare(readFileSync(file), Buffer.from(mine)), name).toBe(0);
        else await expectSameExport(new Uint8Array(readFileSync(file)), mine, name);
        expect(nodeReport.protocol.recalibration).not.toBeNull();
      }

      mkdirSync(path.dirname(ARTIFACT), { recursive: true });
      await page.screenshot({ path: ARTIFACT, fullPage: true });
      expect(problems).toEqual([]);
      expect(
        requests.filter((u) => !u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:')),
      ).toEqual([]);
      await page.close();
    },
    RUN_TIMEOUT_MS + 60_000,
  );

  it('loads a model directory and IDX files picked by the user', async () => {
    const page = await (browser as Browser).newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(`${origin}/`);
    const demo = path.join(scratch, 'tiny');
    await page.setInputFiles(
      '#model-files',
      ['config.json', 'model.safetensors'].map((f) => path.join(demo, 'model', f)),
    );
    await page.waitForFunction(() => /ResNet-20/.test(document.getElementById('loaded')?.textContent ?? ''));
    await page.setInputFiles(
      '#data-files',
      [
        'train-images-idx3-ubyte.gz',
        'train-labels-idx1-ubyte.gz',
        't10k-images-idx3-ubyte.gz',
        't10k-labels-idx1-ubyte.gz',
      ].map((f) => path.join(demo, 'data', f)),
    );
    await page.waitForSelector('#run:not([disabled])');
    expect(await page.locator('#loaded').textContent()).toContain('64 train / 30 test images of 1x8x8');
    // Cancel stops a run at the next batch and says so.
    // The form's defaults are for the demo model: on 64 images the run is refused, naming the setting.
    await page.click('#run');
    await page.waitForFunction(
      () => (window as unknown as { sglpWeb: PageState }).sglpWeb.status === 'error',
    );
    expect(await page.locator('#loaded').textContent()).toMatch(
      /: samples 500: picked data train has only 64/,
    );
    for (const [name, value] of Object.entries(SETTINGS)) {
      if (name !== 'select') await page.fill(`#form [name="${name}"]`, String(value));
    }
    await page.click('#run');
    await page.click('#cancel');
    await page.waitForFunction(() => {
      const s = (window as unknown as { sglpWeb: PageState }).sglpWeb.status;
      return s !== 'running';
    });
    expect(await page.evaluate(() => (window as unknown as { sglpWeb: PageState }).sglpWeb.status)).toBe(
      'cancelled',
    );
    // A wrong pick is named, not swallowed.
    await page.setInputFiles('#data-files', [path.join(demo, 'model', 'config.json')]);
    await page.waitForFunction(() => document.getElementById('loaded')?.classList.contains('error'));
    expect(await page.locator('#loaded').textContent()).toMatch(/train-images-idx3-ubyte\.gz .*is missing/);
    expect(problems).toEqual([]);
    await page.close();
  });
});
