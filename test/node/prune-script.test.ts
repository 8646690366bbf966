// A Node script on the library (examples/node/prune.mjs, `sglp/node`) prunes the bundled language model as
// `sglp prune` does: `--remove 6` on models/fortunes-llama12 with the default text protocol removes the same
// decoder layers, and the written files (config.json, model.safetensors) are the same bytes; so does the
// script's --stream (`loadModelDir(…, { stream: true })`, what `sglp prune --stream` runs).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneCommand } from '../../src/cli/prune.js';
import type { Report } from '../../src/sglp/report/schema.js';
import { captureIo, digest } from '../helpers/cli.js';
import { useGpu } from '../helpers/gpu.js';
import { ROOT, runProcess, staleBundle } from '../helpers/runtimes.js';

const MODEL = path.join(ROOT, 'models', 'fortunes-llama12');
const TEXT = '/usr/share/games/fortunes/cookie';
const SCRIPT = path.join(ROOT, 'examples', 'node', 'prune.mjs');
const TIMEOUT_MS = 600_000;
const have = existsSync(TEXT);

const getGpu = useGpu();
let scratch = '';
let cli: Report;

beforeAll(async () => {
  if (!have) return;
  scratch = mkdtempSync(path.join(tmpdir(), 'sglp-node-script-'));
  const { io } = captureIo();
  cli = await pruneCommand(
    MODEL,
    { data: `text:${TEXT}`, remove: 6, out: path.join(scratch, 'cli') },
    { io, gpu: await getGpu() },
  );
}, TIMEOUT_MS);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe.skipIf(!have)('examples/node/prune.mjs on models/fortunes-llama12', () => {
  it(
    'removes the layers `sglp prune --remove 6` removes and writes the same bytes',
    async () => {
      const stale = staleBundle();
      if (stale) throw new Error(stale);
      const out = path.join(scratch, 'script');
      const r = await runProcess(
        process.execPath,
        [SCRIPT, MODEL, '--data', `text:${TEXT}`, '--remove', '6', '--out', out],
        { cwd: ROOT, env: process.env, timeoutMs: TIMEOUT_MS },
      );
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as Report;
      expect(report.removed).toEqual(cli.removed);
      expect(report.removed).toHaveLength(6);
      expect(report.metrics.after).toEqual(cli.metrics.after);
      const mine = await digest(out);
      const theirs = await digest(path.join(scratch, 'cli'));
      for (const file of ['config.json', 'model.safetensors']) {
        expect(mine[file], file).toBe(theirs[file]);
      }
      expect(readFileSync(path.join(out, 'config.json'), 'utf8')).toContain('"num_hidden_layers": 6');
    },
    TIMEOUT_MS,
  );

  it(
    "--stream (the library's streamed model) removes the same layers and writes the same bytes",
    async () => {
      const out = path.join(scratch, 'script-stream');
      const r = await runProcess(
        process.execPath,
        [SCRIPT, MODEL, '--data', `text:${TEXT}`, '--remove', '6', '--out', out, '--stream'],
        { cwd: ROOT, env: process.env, timeoutMs: TIMEOUT_MS },
      );
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as Report;
      expect(report.removed).toEqual(cli.removed);
      expect(report.device.memory?.streamed).toBe(true);
      const got = report.metrics.after as { perplexity: number; tokens: number };
      const want = cli.metrics.after as { perplexity: number; tokens: number };
      expect(got.tokens).toBe(want.tokens);
      expect(Math.abs(got.perplexity - want.perplexity)).toBeLessThanOrEqual(1e-12 * want.perplexity);
      const mine = await digest(out);
      const theirs = await digest(path.join(scratch, 'cli'));
      for (const file of ['config.json', 'model.safetensors']) {
        expect(mine[file], file).toBe(theirs[file]);
      }
    },
    TIMEOUT_MS,
  );
});
