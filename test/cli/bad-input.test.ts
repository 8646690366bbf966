// Bad input fails fast and writes nothing: each row runs the built `sglp` binary with one bad flag, flag
// combination, data set or output location (on tiny models, so the pre-flight is all that runs) and checks
// the message names what is wrong, the exit status is 1, stderr is a line or two (no help dump, no errno
// text), it took seconds, and neither --out nor a staging entry beside it appeared.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_LLAMA_TEXT, writeTinyLlama } from '../helpers/tiny-llama.js';
import { writeTinyMnist, writeTinyModel } from '../helpers/tiny-model.js';

let root: string;
let cnn: string;
let llm: string;
let data: string;
let text: string;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

function sglp(args: readonly string[]): Promise<Run> {
  const t0 = performance.now();
  return new Promise((done) => {
    execFile(process.execPath, ['dist/cli.js', ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? null) : 0;
      done({
        code: typeof code === 'number' ? code : null,
        stdout,
        stderr,
        seconds: (performance.now() - t0) / 1000,
      });
    });
  });
}

beforeAll(async () => {
  await execFileP(process.execPath, ['scripts/build.mjs', '--no-types']);
  root = await mkdtemp(join(tmpdir(), 'sglp-bad-input-'));
  cnn = join(root, 'cnn');
  llm = join(root, 'llm');
  data = join(root, 'mnist');
  text = join(root, 'corpus.txt');
  await mkdir(cnn);
  await mkdir(data);
  await writeTinyModel(cnn);
  await writeTinyMnist(data, 64, 30);
  await writeTinyLlama(llm, { layers: 4, tied: true, dtype: 'F32', seed: 3 });
  await writeFile(text, TINY_LLAMA_TEXT.repeat(4));
  await writeFile(join(root, 'latin1.txt'), new Uint8Array([0x68, 0x65, 0x6c, 0x6c, 0x6f, 0xe9, 0x21]));
  await writeFile(join(root, 'a-file'), 'x');
  await mkdir(join(root, 'full'));
  await writeFile(join(root, 'full', 'keep.txt'), 'x');
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** sha256 of every file under `dir`, by relative path (directories recursed). */
async function tree(dir: string, prefix = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    const path = join(dir, name);
    if ((await stat(path)).isDirectory()) Object.assign(out, await tree(path, `${prefix}${name}/`));
    else
      out[`${prefix}${name}`] = createHash('sha256')
        .update(await readFile(path))
        .digest('hex');
  }
  return out;
}

function execFileP(cmd: string, args: string[]): Promise<void> {
  return new Promise((ok, fail) => execFile(cmd, args, (err) => (err ? fail(err) : ok())));
}

const img = () => ['prune', cnn, '--data', `mnist:${data}`, '--samples', '40', '--batch', '20'];
const txt = () => [
  'prune',
  llm,
  '--data',
  `text:${text}`,
  '--seq-len',
  '16',
  '--samples',
  '8',
  '--batch',
  '4',
];
const OUT = () => join(root, 'out');

/** [what, arguments, the message expected on stderr]. */
const CASES: readonly (readonly [string, () => string[], RegExp])[] = [
  [
    'text: --batch > --samples',
    () => [...txt(), '--remove', '1', '--batch', '8', '--samples', '4', '--out', OUT()],
    /--batch 8 is larger than --samples 4/,
  ],
  [
    '--select with a score that does not search',
    () => [...img(), '--remove', '1', '--score', 'similarity', '--select', 'max', '--out', OUT()],
    /--select chooses between GradNorm scores; it does not apply to --score similarity/,
  ],
  [
    '--recalibrate more than the data',
    () => [...img(), '--remove', '1', '--recalibrate', '100', '--out', OUT()],
    /--recalibrate 100: .* has only 64 samples/,
  ],
  [
    '--recalibrate on a language model',
    () => [...txt(), '--remove', '1', '--recalibrate', '16', '--out', OUT()],
    /--recalibrate repairs batch norm; .* is a language model and has none/,
  ],
  [
    'images: --batch > --samples',
    () => [...img(), '--remove', '1', '--batch', '20', '--samples', '10', '--out', OUT()],
    /--batch 20 is larger than --samples 10/,
  ],
  [
    'images: default --batch > --samples',
    () => ['prune', cnn, '--data', `mnist:${data}`, '--remove', '1', '--samples', '10', '--out', OUT()],
    /--batch 500 \(the default\) is larger than --samples 10/,
  ],
  [
    '--out is a file',
    () => [...img(), '--remove', '1', '--out', join(root, 'a-file')],
    /--out .*a-file is a file/,
  ],
  [
    '--out below a file',
    () => [...img(), '--remove', '1', '--out', join(root, 'a-file', 'x')],
    /--out .*a-file.*is a file|not a directory/,
  ],
  [
    '--out where nothing can be created',
    () => [...img(), '--remove', '1', '--out', '/proc/sglp-nowhere/x'],
    /--out \/proc\/sglp-nowhere\/x cannot be written: files cannot be created in \/proc/,
  ],
  ['--out is the input model', () => [...img(), '--remove', '1', '--out', cnn], /is the input model/],
  [
    '--out is not empty',
    () => [...img(), '--remove', '1', '--out', join(root, 'full')],
    /--out .*full is not empty/,
  ],
  ['--remove 0', () => [...img(), '--remove', '0', '--out', OUT()], /--remove 0 removes nothing/],
  [
    '--remove beyond the segmentation limit',
    () => [...img(), '--remove', '1000', '--out', OUT()],
    /--remove 1000: at most \d+ of the \d+ units .*--segments K changes the limit/,
  ],
  [
    '--remove beyond the limit of --segments',
    () => [...txt(), '--remove', '4', '--segments', '2', '--out', OUT()],
    /--remove 4: at most 2 of the 4 units .* with --segments 2/,
  ],
  [
    'baseline --remove beyond the unprotected units',
    () => [...img(), '--method', 'random', '--remove', '100', '--out', OUT()],
    /--remove 100 with --method random: only \d+ units are unprotected/,
  ],
  [
    '--segments more than units',
    () => [...txt(), '--remove', '1', '--segments', '9', '--out', OUT()],
    /--segments 9: .* has only 4 units/,
  ],
  [
    '--keep-per-segment vs --segments',
    () => [...txt(), '--keep-per-segment', '1,1', '--segments', '3', '--out', OUT()],
    /--keep-per-segment has 2 counts but --segments is 3/,
  ],
  [
    '--seq-len past max_position_embeddings',
    () => [...txt(), '--remove', '1', '--seq-len', '100', '--out', OUT()],
    /--seq-len 100 is longer than .* max_position_embeddings 64/,
  ],
  [
    '--seq-len on an image model',
    () => [...img(), '--remove', '1', '--seq-len', '16', '--out', OUT()],
    /--seq-len applies to language models/,
  ],
  [
    '--samples more than the data',
    () => [...img(), '--remove', '1', '--samples', '1000', '--batch', '10', '--out', OUT()],
    /--samples 1000: .* has only 64 samples/,
  ],
  [
    'GradNorm batches more than the data',
    () => [
      ...img(),
      '--remove',
      '1',
      '--score',
      'gradnorm',
      '--gradnorm-batches',
      '10',
      '--gradnorm-batch-size',
      '10',
      '--out',
      OUT(),
    ],
    /--gradnorm-batches 10 x --gradnorm-batch-size 10 = 100: .* has only 64 samples/,
  ],
  [
    'windows: --samples more than the text',
    () => [...txt(), '--remove', '1', '--samples', '500', '--batch', '4', '--out', OUT()],
    /--samples 500: .* has only \d+ windows/,
  ],
  [
    '--finetune-samples more than the data',
    () => [
      ...img(),
      '--remove',
      '1',
      '--gradnorm-batch-size',
      '8',
      '--finetune-epochs',
      '1',
      '--finetune-samples',
      '1000',
      '--out',
      OUT(),
    ],
    /--finetune-samples 1000: .* has only 64 samples/,
  ],
  [
    '--finetune-samples without --finetune-epochs',
    () => [...img(), '--remove', '1', '--finetune-samples', '10', '--out', OUT()],
    /--finetune-samples limits fine-tuning/,
  ],
  [
    '--finetune-lr without --finetune-epochs',
    () => [...img(), '--remove', '1', '--finetune-lr', '0.001', '--out', OUT()],
    /--finetune-lr sets fine-tuning: give --finetune-epochs E/,
  ],
  [
    '--finetune-lr 0',
    () => [...txt(), '--remove', '1', '--finetune-epochs', '1', '--finetune-lr', '0', '--out', OUT()],
    /--finetune-lr/,
  ],
  [
    'text:DIR',
    () => [...txt(), '--remove', '1', '--data', `text:${root}`, '--out', OUT()],
    /is a directory; give a UTF-8 text file/,
  ],
  [
    'text file missing',
    () => [...txt(), '--remove', '1', '--data', `text:${join(root, 'nope.txt')}`, '--out', OUT()],
    /text file .*nope\.txt not found/,
  ],
  [
    'text not UTF-8',
    () => [...txt(), '--remove', '1', '--data', `text:${join(root, 'latin1.txt')}`, '--out', OUT()],
    /not valid UTF-8 text \(byte 0xe9 at byte offset 5\)/,
  ],
  [
    'image data for a language model',
    () => ['prune', llm, '--data', `mnist:${data}`, '--remove', '1', '--out', OUT()],
    /language model .*--data must be text:FILE/,
  ],
  [
    'text data for an image model',
    () => ['prune', cnn, '--data', `text:${text}`, '--remove', '1', '--out', OUT()],
    /image classifier: --data must be an image data set/,
  ],
  [
    'image data set missing',
    () => [
      'prune',
      cnn,
      '--data',
      `mnist:${join(root, 'nodata')}`,
      '--remove',
      '1',
      '--samples',
      '4',
      '--batch',
      '2',
      '--out',
      OUT(),
    ],
    /not found/,
  ],
  [
    'neither --remove nor --keep-per-segment',
    () => [...img(), '--out', OUT()],
    /give exactly one of --remove R and --keep-per-segment/,
  ],
  ['--out missing', () => [...img(), '--remove', '1'], /required option '--out <DIR>' not specified/],
  [
    'an unknown option',
    () => [...img(), '--remove', '1', '--out', OUT(), '--bogus'],
    /unknown option '--bogus'/,
  ],
  [
    'cka: --batch > --samples',
    () => ['cka', cnn, '--data', `mnist:${data}`, '--samples', '10', '--batch', '20'],
    /--batch 20 is larger than --samples 10/,
  ],
  [
    'cka: --out is a directory',
    () => ['cka', cnn, '--data', `mnist:${data}`, '--samples', '10', '--batch', '10', '--out', root],
    /--out .* is a directory; give a file name/,
  ],
  [
    'cka: --seq-len past max_position_embeddings',
    () => ['cka', llm, '--data', `text:${text}`, '--seq-len', '100', '--samples', '2', '--batch', '2'],
    /--seq-len 100 is longer than .* max_position_embeddings 64/,
  ],
  [
    'train: --out is a file',
    () => [
      'train',
      '--arch',
      'cifar-resnet',
      '--depth',
      '8',
      '--data',
      `mnist:${data}`,
      '--epochs',
      '1',
      '--out',
      join(root, 'a-file'),
    ],
    /--out .*a-file is a file/,
  ],
  [
    'eval: --seq-len past max_position_embeddings',
    () => ['eval', llm, '--data', `text:${text}`, '--seq-len', '100'],
    /--seq-len 100 is longer than .* max_position_embeddings 64/,
  ],
  ['eval: text:DIR', () => ['eval', llm, '--data', `text:${root}`], /is a directory; give a UTF-8 text file/],
];

describe('bad input: one plain message within seconds, nothing written', () => {
  it.each(CASES.map(([what, args, re]) => ({ what, args, re })))('$what', async ({ args, re }) => {
    const before = await tree(root);
    const r = await sglp(args());
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(re);
    expect(r.stdout).toBe('');
    // One line of message (two for a very long one wrapped by nobody) and the pointer to --help at most.
    const lines = r.stderr.trim().split('\n');
    expect(lines.length, r.stderr).toBeLessThanOrEqual(2);
    if (lines.length === 2) expect(lines[1]).toMatch(/^\(see sglp \w+ --help\)$/);
    expect(r.stderr).not.toMatch(/\bE[A-Z]{3,}\b|errno|\.tmp|sglp-staging|Warning: maxDynamic/);
    expect(r.seconds, `took ${r.seconds.toFixed(2)} s`).toBeLessThan(5);
    expect((await readdir(root)).filter((e) => e.startsWith('.') || e === 'out')).toEqual([]);
    expect(await tree(root)).toEqual(before);
  });
});
