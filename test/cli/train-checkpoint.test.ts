// A training checkpoint is written as a unit (train-run-dir.ts): a run killed before its commit point
// leaves the previous checkpoint whole and a staging directory the next run removes; one killed after it
// leaves a ready directory whose files the next run moves into place. No device needed: the files are
// written from arrays.

import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkCheckpointEpochs,
  MODEL_FILE,
  OPTIMIZER_FILE,
  openRunDir,
  READY_DIR,
  STATE_FILE,
  writeCheckpoint,
} from '../../src/node/train-run-dir.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sglp-ckpt-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const files = (epoch: number) => ({
  optimizer: { w: { dtype: 'F32' as const, shape: [2], data: Float32Array.of(epoch, -epoch) } },
  optimizerMeta: { kind: 'test' },
  model: { w: { dtype: 'F32' as const, shape: [2], data: Float32Array.of(epoch, 2 * epoch) } },
  config: { architecture: 'test' },
  state: { version: 1, completedEpochs: epoch },
});

const check = (s: unknown) => s as { completedEpochs: number };

/** A process id that is not running (the highest pid Linux hands out is below 2^22). */
const DEAD_PID = 4_194_303;

describe('training checkpoints are written as a unit', () => {
  it('writes the four files and nothing else', async () => {
    const out = join(root, 'plain');
    await mkdir(out);
    await writeCheckpoint(out, 1, files(1));
    expect((await readdir(out)).sort()).toEqual(
      ['config.json', MODEL_FILE, OPTIMIZER_FILE, STATE_FILE].sort(),
    );
    await checkCheckpointEpochs(out, [MODEL_FILE, OPTIMIZER_FILE], 1);
  });

  it('a run killed before the commit point: the previous checkpoint stays, the staging is removed', async () => {
    const out = join(root, 'before-commit');
    await mkdir(out);
    await writeCheckpoint(out, 1, files(1));
    const before = await readFile(join(out, MODEL_FILE));
    // What a SIGKILLed writer of epoch 2 leaves: a partly written staging directory.
    const stale = join(out, `.checkpoint.sglp-staging-${DEAD_PID}`);
    await mkdir(stale);
    await writeFile(join(stale, OPTIMIZER_FILE), 'partial');
    const notes: string[] = [];
    const state = await openRunDir(out, true, check, (l) => notes.push(l));
    expect(state?.completedEpochs).toBe(1);
    expect(notes.join('\n')).toMatch(
      /removed the unfinished checkpoint of an interrupted run \(process 4194303\)/,
    );
    expect(await readdir(out)).not.toContain(`.checkpoint.sglp-staging-${DEAD_PID}`);
    expect(await readFile(join(out, MODEL_FILE))).toEqual(before);
    await checkCheckpointEpochs(out, [MODEL_FILE, OPTIMIZER_FILE], 1);
  });

  it('a run killed after the commit point: the next run finishes moving the files', async () => {
    const out = join(root, 'after-commit');
    const reference = join(root, 'reference');
    await mkdir(out);
    await mkdir(reference);
    await writeCheckpoint(out, 1, files(1));
    await writeCheckpoint(reference, 2, files(2));
    // Epoch 2 committed (the ready directory complete), then killed after moving the optimizer file only.
    const ready = join(out, READY_DIR);
    await mkdir(ready);
    for (const f of ['config.json', MODEL_FILE, STATE_FILE]) {
      await writeFile(join(ready, f), await readFile(join(reference, f)));
    }
    await writeFile(join(out, OPTIMIZER_FILE), await readFile(join(reference, OPTIMIZER_FILE)));
    const notes: string[] = [];
    const state = await openRunDir(out, true, check, (l) => notes.push(l));
    expect(state?.completedEpochs).toBe(2);
    expect(notes.join('\n')).toMatch(/finished saving the checkpoint/);
    expect(await readdir(out)).not.toContain(READY_DIR);
    for (const f of ['config.json', MODEL_FILE, OPTIMIZER_FILE, STATE_FILE]) {
      expect(await readFile(join(out, f)), f).toEqual(await readFile(join(reference, f)));
    }
    await checkCheckpointEpochs(out, [MODEL_FILE, OPTIMIZER_FILE], 2);
  });
});
