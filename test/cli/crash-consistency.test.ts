// Crash consistency of `sglp prune`: the built binary on a tiny model is killed at several points (SIGKILL
// during calibration, the search, the evaluation, the moment its staging directory appears, and while it
// holds files) and stopped with SIGINT/SIGTERM. After each, --out holds the complete, valid result or
// nothing; a SIGINT/SIGTERM exits 130/143 with one line and no staging left; and a rerun into the same
// --out succeeds, reporting and removing what a killed run left.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { watch } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSafetensors } from '../../src/io/safetensors.js';
import { openFileSource } from '../../src/node/files.js';
import { parseReport } from '../../src/sglp/report/schema.js';
import { writeTinyMnist, writeTinyModel } from '../helpers/tiny-model.js';

let root: string;
let model: string;
let data: string;

const FILES = ['config.json', 'model.safetensors', 'report.html', 'sglp-report.json'];

beforeAll(async () => {
  await new Promise<void>((ok, fail) =>
    execFile(process.execPath, ['scripts/build.mjs', '--no-types'], (err) => (err ? fail(err) : ok())),
  );
  root = await mkdtemp(join(tmpdir(), 'sglp-crash-'));
  model = join(root, 'model');
  data = join(root, 'data');
  await mkdir(model);
  await mkdir(data);
  await writeTinyModel(model);
  await writeTinyMnist(data, 64, 30);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Ended {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** Starts `sglp prune` into `out`; `onErr` sees stderr as it comes. */
function prune(out: string, onErr: (text: string, child: ChildProcess) => void = () => {}) {
  const child = spawn(
    process.execPath,
    [
      'dist/cli.js',
      'prune',
      model,
      '--data',
      `mnist:${data}`,
      '--remove',
      '2',
      '--samples',
      '40',
      '--batch',
      '20',
      '--gradnorm-batches',
      '1',
      '--gradnorm-batch-size',
      '8',
      '--out',
      out,
      '--json',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stdout?.resume();
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString();
    onErr(stderr, child);
  });
  const ended = new Promise<Ended>((done) =>
    child.on('exit', (code, signal) => {
      // Let the last stderr bytes arrive.
      setTimeout(() => done({ code, signal, stderr }), 50);
    }),
  );
  return { child, ended };
}

/** --out holds the complete result or nothing; returns which. */
async function completeOrNothing(out: string): Promise<'complete' | 'nothing'> {
  let names: string[];
  try {
    names = (await readdir(out)).sort();
  } catch {
    return 'nothing';
  }
  if (names.length === 0) return 'nothing';
  expect(names).toEqual(FILES);
  const report = parseReport(await readFile(join(out, 'sglp-report.json'), 'utf8'));
  expect(report.removed).toHaveLength(2);
  const src = await openFileSource(join(out, 'model.safetensors'));
  try {
    expect((await openSafetensors(src)).keys().length).toBeGreaterThan(0);
  } finally {
    await src.close?.();
  }
  expect(await readFile(join(out, 'report.html'), 'utf8')).toMatch(/<\/html>\s*$/);
  return 'complete';
}

/** Staging entries of `out` left beside it. */
async function staging(out: string): Promise<string[]> {
  const name = out.slice(root.length + 1);
  return (await readdir(root)).filter((e) => e.startsWith(`.${name}.sglp-staging-`));
}

/** SIGKILL the run when `when` says so; then check the invariant. */
async function killAt(
  out: string,
  when: (stderr: string) => boolean,
  watchStaging?: (child: ChildProcess) => () => void,
) {
  const run = prune(out, (stderr, child) => {
    if (when(stderr)) child.kill('SIGKILL');
  });
  const stop = watchStaging?.(run.child);
  const ended = await run.ended;
  stop?.();
  const state = await completeOrNothing(out);
  return { ended, state, left: await staging(out) };
}

/** A rerun into the same --out succeeds and leaves the complete result, no staging. */
async function rerunSucceeds(out: string, leftBefore: readonly string[]): Promise<void> {
  const wasComplete = (await completeOrNothing(out)) === 'complete';
  if (wasComplete) await rm(out, { recursive: true });
  const r = await prune(out).ended;
  expect(r.code, r.stderr).toBe(0);
  expect(await completeOrNothing(out)).toBe('complete');
  expect(await staging(out)).toEqual([]);
  if (leftBefore.length > 0) expect(r.stderr).toMatch(/removed the unfinished result of an interrupted run/);
}

describe('sglp prune killed or stopped at any point: --out is complete or absent', () => {
  it('SIGKILL during calibration and the evaluation', async () => {
    const points: [string, (s: string) => boolean][] = [
      ['calibration', (s) => s.includes('calibration')],
      ['evaluation', (s) => s.includes('eval after')],
    ];
    for (const [name, when] of points) {
      const out = join(root, `kill-${name}`);
      const { ended, state, left } = await killAt(out, when);
      expect(ended.signal ?? ended.code, name).not.toBeNull();
      expect(['complete', 'nothing']).toContain(state);
      expect(left, name).toEqual([]); // killed before any file: nothing anywhere
      if (name === 'evaluation') await rerunSucceeds(out, left);
    }
  });

  it('SIGKILL the moment the staging directory appears, and while it fills', async () => {
    for (const delayMs of [0, 40]) {
      const out = join(root, `kill-staging-${delayMs}`);
      const { state, left } = await killAt(
        out,
        () => false,
        (child) => {
          const w = watch(root, (_e, name) => {
            if (String(name).startsWith(`.kill-staging-${delayMs}.sglp-staging-`)) {
              setTimeout(() => child.kill('SIGKILL'), delayMs);
              w.close();
            }
          });
          return () => w.close();
        },
      );
      expect(['complete', 'nothing']).toContain(state);
      // Killed while writing: the staging directory is what is left (the rerun must report and remove it).
      if (state === 'nothing') expect(left).toHaveLength(1);
      await rerunSucceeds(out, left);
    }
  });

  it('SIGINT and SIGTERM stop it with 130/143, one line, nothing written, no staging left', async () => {
    for (const [sig, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      const out = join(root, `stop-${sig}`);
      let sent = false;
      const r = await prune(out, (stderr, child) => {
        if (!sent && stderr.includes('eval before')) {
          sent = true;
          child.kill(sig);
        }
      }).ended;
      expect(r.code, r.stderr).toBe(code);
      expect(r.stderr.trim().split('\n').at(-1)).toBe(`sglp prune stopped by ${sig}; nothing was written`);
      expect(await completeOrNothing(out)).toBe('nothing');
      expect(await staging(out)).toEqual([]);
    }
  });
});
