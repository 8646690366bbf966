// Portability proof (issue 2, item 6): the same GEMM and reduction from the platform-neutral bundle
// dist/index.js run in headless Chromium (Debian's chromium driven by playwright-core, the page served
// on 127.0.0.1) and in Deno (npm `deno`, --unstable-webgpu), checked against the float64 CPU reference
// in case.mjs, which the page, the Deno script and this file share.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DENO, ROOT, runProcess, staleBundle } from '../helpers/runtimes.js';
import { type CaseResults, check, reference } from './case.mjs';

const HERE = path.join(ROOT, 'test', 'portability');
const CHROMIUM = process.env.SGLP_CHROMIUM ?? '/usr/bin/chromium';
const DENO_TIMEOUT_MS = 90_000;
const PAGE_TIMEOUT_MS = 90_000;

/** Flags every browser run uses: headless, no sandbox (root), nothing that reaches the network. */
const CHROMIUM_FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--enable-unsafe-webgpu',
  // Unmasks adapter.info, so that the log says which adapter ran (without it the ANGLE adapter's is empty).
  '--enable-webgpu-developer-features',
];

/**
 * Two WebGPU adapters of headless Linux Chromium, both run. Chromium 156 lists lavapipe's own Vulkan
 * adapter (chrome://gpu) but never hands it out: besides SwiftShader it takes only Vulkan devices that
 * can share images with its compositor. lavapipe is reached through ANGLE instead: ANGLE on Vulkan
 * (lavapipe where there is no GPU) under Dawn's OpenGL ES backend, which offers WebGPU's compatibility
 * mode only. SwiftShader gives core WebGPU on Dawn's Vulkan backend.
 */
const BROWSER_RUNS = [
  {
    name: 'ANGLE Vulkan + Dawn OpenGL ES, compatibility mode',
    args: ['--use-angle=vulkan', '--use-webgpu-adapter=opengles', '--force-webgpu-compat'],
    // Playwright's headless defaults put ANGLE on SwiftShader.
    ignoreDefaultArgs: ['--use-angle=swiftshader-webgl', '--enable-unsafe-swiftshader'],
  },
  {
    name: 'SwiftShader, Dawn Vulkan, core',
    args: ['--use-webgpu-adapter=swiftshader'],
    ignoreDefaultArgs: [] as string[],
  },
];

/** Mesa's device-select layer prints XDG_RUNTIME_DIR complaints when it is unset; compute needs no layer. */
function quietEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (!env.XDG_RUNTIME_DIR && env.MESA_VK_DEVICE_SELECT === undefined) env.NODEVICE_SELECT ??= '1';
  return env;
}

const MIME: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** Serves dist/ and test/portability/ (nothing else) from the repository on 127.0.0.1, a free port. */
async function serve(): Promise<{ server: Server; origin: string }> {
  const allowed = [path.join(ROOT, 'dist') + path.sep, HERE + path.sep];
  const server = createServer((req, res) => {
    let file = '';
    try {
      file = path.resolve(
        ROOT,
        `.${decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname)}`,
      );
    } catch {
      // A malformed URL: answered 404 below.
    }
    const type = MIME[path.extname(file)];
    if (req.method !== 'GET' || !type || !allowed.some((dir) => file.startsWith(dir)) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function describeAdapter(r: CaseResults): string {
  const a = r.adapter;
  const text =
    [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') || '(no adapter info)';
  return `${text}${a.isCpu ? ' (a CPU adapter)' : ''}`;
}

function report(runtime: string, results: CaseResults, ms: number): { problems: string[] } {
  const { problems, worst } = check(results, expected);
  const margins = Object.entries(worst)
    .map(([name, w]) => `${name}: ${w.toPrecision(2)}`)
    .join(', ');
  console.log(
    `[portability] ${runtime}: ${describeAdapter(results)}; ${ms.toFixed(0)} ms; worst |error|/tolerance: ${margins}`,
  );
  return { problems };
}

const expected = reference();

/** What page.html leaves in window.sglpPortability. */
interface PageOutcome {
  ok: boolean;
  results?: CaseResults;
  error?: string;
}

describe('portability: the same GEMM and sum outside Node', () => {
  beforeAll(() => {
    const stale = staleBundle();
    if (stale) throw new Error(stale);
  });

  describe('headless Chromium', () => {
    let server: Server | undefined;
    let origin = '';
    beforeAll(async () => {
      if (!existsSync(CHROMIUM)) {
        throw new Error(
          `no Chromium at ${CHROMIUM}: install Debian's chromium (\`npm run setup\` as root does) or set SGLP_CHROMIUM`,
        );
      }
      ({ server, origin } = await serve());
    });
    afterAll(async () => {
      await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    });

    for (const run of BROWSER_RUNS) {
      it(`runs in Chromium: ${run.name}`, async () => {
        const started = performance.now();
        const browser = await chromium.launch({
          executablePath: CHROMIUM,
          args: [...CHROMIUM_FLAGS, ...run.args],
          ignoreDefaultArgs: run.ignoreDefaultArgs,
          env: quietEnv(),
          timeout: 60_000,
        });
        const errors: string[] = [];
        const warnings: string[] = [];
        // Settles with the first error the page reports, so a broken page fails fast and says why.
        let pageFailed: (why: string) => void = () => {};
        const failure = new Promise<never>((_, reject) => {
          pageFailed = (why) => reject(new Error(`the page failed: ${why}`));
        });
        failure.catch(() => {});
        const fail = (why: string) => {
          errors.push(why);
          pageFailed(why);
        };
        try {
          const page = await browser.newPage();
          page.on('console', (msg) => {
            if (msg.type() === 'error') fail(`console: ${msg.text()}`);
            if (msg.type() === 'warning') warnings.push(msg.text());
          });
          page.on('pageerror', (error) => fail(`page error: ${error.message}`));
          page.on('requestfailed', (req) => fail(`request failed: ${req.url()}`));
          page.on('response', (res) => {
            if (res.status() >= 400) fail(`HTTP ${res.status()}: ${res.url()}`);
          });
          page.setDefaultTimeout(PAGE_TIMEOUT_MS);
          const work = (async () => {
            await page.goto(`${origin}/test/portability/page.html`);
            await page.waitForFunction(() => 'sglpPortability' in window);
            return page.evaluate(
              () => (window as unknown as { sglpPortability: Promise<PageOutcome> }).sglpPortability,
            );
          })();
          work.catch(() => {}); // when the page failed first, the browser closes under it
          const outcome = await Promise.race([failure, work]);
          for (const w of warnings) console.log(`[portability] chromium console warning: ${w}`);
          expect(outcome.error, 'the page threw').toBeUndefined();
          const { problems } = report(
            `chromium (${run.name})`,
            outcome.results as CaseResults,
            performance.now() - started,
          );
          expect(problems).toEqual([]);
          expect(errors, 'console errors in the page').toEqual([]);
        } finally {
          await browser.close();
        }
      });
    }
  });

  describe('Deno', () => {
    it('runs in Deno (--unstable-webgpu)', async () => {
      if (!existsSync(DENO)) throw new Error(`${path.relative(ROOT, DENO)} is missing: run \`npm ci\``);
      const started = performance.now();
      const scratch = mkdtempSync(path.join(tmpdir(), 'sglp-deno-'));
      try {
        const env = quietEnv({
          DENO_DIR: path.join(scratch, 'deno-dir'),
          DENO_NO_UPDATE_CHECK: '1',
          DENO_NO_PACKAGE_JSON: '1',
          NO_COLOR: '1',
        });
        const args = [
          'run',
          '--unstable-webgpu',
          '--no-prompt',
          '--no-config',
          '--no-lock',
          '--cached-only',
          `--allow-read=${ROOT}`,
          path.join(HERE, 'deno-check.mjs'),
        ];
        // cwd outside the repository: Deno finds no package.json or config there to act on.
        const { code, signal, stdout, stderr } = await runProcess(DENO, args, {
          cwd: scratch,
          env,
          timeoutMs: DENO_TIMEOUT_MS,
        });
        const what = `deno ${args.join(' ')}`;
        expect(signal, `${what} was killed (timeout ${DENO_TIMEOUT_MS} ms?)\n${stderr}`).toBeNull();
        expect(code, `${what} failed:\n${stderr}`).toBe(0);
        expect(stderr.trim(), `${what} wrote to stderr`).toBe('');
        const line = stdout.trim().split('\n').at(-1) ?? '';
        let results: CaseResults;
        try {
          results = JSON.parse(line) as CaseResults;
        } catch {
          throw new Error(`${what} printed no JSON result:\n${stdout.slice(0, 2000)}`);
        }
        const { problems } = report('deno', results, performance.now() - started);
        expect(problems).toEqual([]);
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    });
  });
});
