// report.html in real headless Chromium (Debian's, driven by playwright-core), opened from file:// with the
// network unreachable: it must load without console errors or failed requests, draw the heatmap with one
// cell per pair of units and one box per segment, and keep hostile unit names as text. Screenshots go to
// test-artifacts/ for people to look at.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReportHtml } from '../../src/report/html.js';
import type { Report } from '../../src/sglp/report/schema.js';
import { asBaseline, llamaReport, resnet56Report } from './fixture.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const CHROMIUM = process.env.SGLP_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

interface Opened {
  problems: string[];
  cells: number;
  boxes: number;
  scripts: number;
  heatmapWidth: number;
  text: string;
  /** The readout line and crosshair after hovering a cell (the page's script at work). */
  readout: string;
  crosshair: string | null;
}

describe('report.html in headless Chromium', () => {
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `no Chromium at ${CHROMIUM}: install Debian's chromium (\`npm run setup\` as root does) or set SGLP_CHROMIUM`,
      );
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, timeout: 60_000 });
    dir = mkdtempSync(path.join(tmpdir(), 'sglp-report-'));
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Writes the page, opens it from file://, screenshots it to test-artifacts/`shot`. */
  async function open(report: Report, file: string, shot: string): Promise<Opened> {
    const html = path.join(dir, file);
    writeFileSync(html, renderReportHtml(report));
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning')
        problems.push(`console ${msg.type()}: ${msg.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()}`));
    page.on('request', (req) => {
      if (req.url() !== pathToFileURL(html).href) problems.push(`request: ${req.url()}`);
    });
    await page.goto(pathToFileURL(html).href, { waitUntil: 'load' });
    // Hover a cell so that the script runs and the screenshot shows the crosshair.
    await page.hover('#cka-heatmap .cells rect >> nth=40');
    const facts = await page.evaluate(() => ({
      cells: document.querySelectorAll('#cka-heatmap .cells rect').length,
      boxes: document.querySelectorAll('#cka-heatmap .segment-box').length,
      scripts: document.querySelectorAll('script').length,
      heatmapWidth: document.getElementById('cka-heatmap')?.getBoundingClientRect().width ?? 0,
      text: document.querySelector('main')?.textContent ?? '',
      readout: document.getElementById('cka-readout')?.textContent ?? '',
      crosshair: document.getElementById('cka-row')?.getAttribute('visibility') ?? null,
    }));
    await page.screenshot({ path: path.join(ARTIFACTS, shot), fullPage: true });
    await page.close();
    return { problems, ...facts };
  }

  it('ResNet-56: loads cleanly, L×L cells, one box per segment', async () => {
    const report = await resnet56Report({ finetune: true });
    const r = await open(report, 'report.html', 'report.png');
    expect(r.problems).toEqual([]);
    expect(r.cells).toBe(28 * 28);
    expect(r.boxes).toBe(5);
    expect(r.scripts).toBe(1);
    expect(r.heatmapWidth).toBeGreaterThan(300);
    expect(r.text).toContain('ResNet-56');
    // Cell 40 is row 1, column 12.
    expect(r.readout).toMatch(/^layer1\.0 × layer2\.2: CKA 0\.\d+$/);
    expect(r.crosshair).toBe('visible');
  });

  it('a Block Influence baseline', async () => {
    const report = asBaseline(await resnet56Report(), 'block-influence');
    const r = await open(report, 'baseline.html', 'report-baseline.png');
    expect(r.problems).toEqual([]);
    expect(r.cells).toBe(28 * 28);
    expect(r.text).toContain('Unit scores');
  });

  it('LLaMA with 12 and 56 layers', async () => {
    for (const layers of [12, 56]) {
      const report = await llamaReport(layers);
      const r = await open(report, `report-${layers}.html`, `report-${layers}.png`);
      expect(r.problems).toEqual([]);
      expect(r.cells).toBe(layers * layers);
      expect(r.boxes).toBe(report.segmentation.k);
    }
  });

  it('keeps a hostile unit name as text', async () => {
    const evil = '<script>alert(1)</script>';
    const report = await resnet56Report({ rename: (name, i) => (i === 3 ? evil : name) });
    const r = await open(report, 'evil.html', 'report-escaped.png');
    expect(r.problems).toEqual([]);
    expect(r.scripts).toBe(1);
    expect(r.text).toContain(evil);
  });
});
