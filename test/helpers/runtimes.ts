// Running the library bundle in other runtimes from a test: the Deno binary, a child process with a
// hard timeout, and the check that dist/index.js was built from the current sources.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DENO = path.join(ROOT, 'node_modules', '.bin', 'deno');
const BUNDLE = path.join(ROOT, 'dist', 'index.js');

/** Why dist/index.js cannot be trusted to hold the current sources, or undefined if it can. */
export function staleBundle(): string | undefined {
  const rebuild = 'run `node scripts/build.mjs` (`npm test` builds it first)';
  if (!existsSync(BUNDLE)) return `dist/index.js is missing: ${rebuild}`;
  const built = statSync(BUNDLE).mtimeMs;
  let sources: string[] = [];
  try {
    const map = JSON.parse(readFileSync(`${BUNDLE}.map`, 'utf8')) as { sources: string[] };
    sources = map.sources.map((s) => path.resolve(ROOT, 'dist', s));
  } catch {
    return `dist/index.js.map is missing or unreadable: ${rebuild}`;
  }
  const inputs = [...sources, path.join(ROOT, 'src', 'index.ts'), path.join(ROOT, 'scripts', 'build.mjs')];
  for (const file of inputs) {
    if (file.includes(`${path.sep}node_modules${path.sep}`)) continue;
    const rel = path.relative(ROOT, file);
    if (!existsSync(file)) return `dist/index.js was built from ${rel}, which no longer exists: ${rebuild}`;
    if (statSync(file).mtimeMs > built) return `dist/index.js is older than ${rel}: ${rebuild}`;
  }
  return undefined;
}

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `cmd` to completion, killed (with its children) after `timeoutMs`. */
export function runProcess(
  cmd: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    // Its own process group: the npm shim runs the real binary as a child, and a timeout kills both.
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    const timer = setTimeout(() => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, opts.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Runs a Deno script (examples/deno/…) the way the tests do: --unstable-webgpu, offline, reading `ROOT` and
 * `scratch`, writing `scratch` only, its own DENO_DIR there.
 */
export function runDeno(
  script: string,
  args: string[],
  scratch: string,
  timeoutMs: number,
): Promise<ProcessResult> {
  if (!existsSync(DENO)) throw new Error(`${path.relative(ROOT, DENO)} is missing: run \`npm ci\``);
  const stale = staleBundle();
  if (stale) throw new Error(stale);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DENO_DIR: path.join(scratch, 'deno-dir'),
    DENO_NO_UPDATE_CHECK: '1',
    DENO_NO_PACKAGE_JSON: '1',
    NO_COLOR: '1',
  };
  if (!env.XDG_RUNTIME_DIR && env.MESA_VK_DEVICE_SELECT === undefined) env.NODEVICE_SELECT ??= '1';
  const flags = [
    'run',
    '--unstable-webgpu',
    '--no-prompt',
    '--no-config',
    '--no-lock',
    '--cached-only',
    `--allow-read=${ROOT},${scratch}`,
    `--allow-write=${scratch}`,
  ];
  return runProcess(DENO, [...flags, script, ...args], { cwd: scratch, env, timeoutMs });
}
