// Shared by the browser tests: Debian's Chromium through playwright-core (flags and adapter choice as in
// test/portability), and a static server on 127.0.0.1 that maps URL prefixes to directories.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.SGLP_CHROMIUM ?? '/usr/bin/chromium';

/** Headless, no sandbox (root), nothing that reaches the network; WebGPU on SwiftShader (Dawn Vulkan, core). */
const FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--enable-unsafe-webgpu',
  '--enable-webgpu-developer-features',
  '--use-webgpu-adapter=swiftshader',
];

export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's chromium (\`npm run setup\` as root does) or set SGLP_CHROMIUM`,
    );
  }
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (!env.XDG_RUNTIME_DIR && env.MESA_VK_DEVICE_SELECT === undefined) env.NODEVICE_SELECT ??= '1';
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, env, timeout: 60_000 });
}

const MIME: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** Serves `routes` (URL prefix ending in "/" → directory) on 127.0.0.1; "/" maps to index.html. */
export async function serveDirs(routes: Record<string, string>): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    let pathname = '';
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    } catch {
      // malformed: 404 below
    }
    const prefix = Object.keys(routes)
      .sort((a, b) => b.length - a.length)
      .find((p) => pathname.startsWith(p));
    let file = '';
    if (prefix !== undefined) {
      const root = path.resolve(routes[prefix]);
      file = path.resolve(root, `.${path.sep}${pathname.slice(prefix.length) || 'index.html'}`);
      if (!file.startsWith(root + path.sep)) file = '';
    }
    if (
      (req.method !== 'GET' && req.method !== 'HEAD') ||
      !file ||
      !existsSync(file) ||
      !statSync(file).isFile()
    ) {
      res.writeHead(404).end();
      return;
    }
    const body = readFileSync(file);
    res.writeHead(200, {
      'content-type': MIME[path.extname(file)] ?? 'application/octet-stream',
      'content-length': body.byteLength,
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
