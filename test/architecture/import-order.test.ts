import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { edge, type Import, importsOf, importsUnder, LAYER_ORDER, violations } from './layers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Imports that break the order today and are not this test's to move: each names the file that has to
 * change. Remove an entry when its import goes (the last test fails on an entry that no longer breaks
 * anything, so the list only shrinks).
 */
const ALLOWED: readonly string[] = [];

/** bench/ measures the library; it may not reach into the command line (issue 14). */
const BENCH_ALLOWED: readonly string[] = [];

function benchViolations(imports: readonly Import[]): Import[] {
  return imports.filter((i) => i.to?.startsWith('src/cli/'));
}

describe('the layer order', () => {
  const src = importsUnder(root, 'src');
  const bench = importsUnder(root, 'bench');

  it('holds for every import under src/ (but the listed ones)', () => {
    const found = violations(src).filter((v) => !ALLOWED.includes(edge(v)));
    expect(found.map((v) => `${edge(v)}: ${v.why}`)).toEqual([]);
  });

  it('keeps bench/ out of the command line (but the listed ones)', () => {
    const found = benchViolations(bench).filter((v) => !BENCH_ALLOWED.includes(edge(v)));
    expect(found.map(edge)).toEqual([]);
  });

  it('has no allow-list entry that no longer breaks anything', () => {
    const now = new Set([...violations(src), ...benchViolations(bench)].map(edge));
    expect([...ALLOWED, ...BENCH_ALLOWED].filter((e) => !now.has(e))).toEqual([]);
  });

  it('names every folder under src/ in its table', () => {
    const named = new Set(LAYER_ORDER.flat());
    const layers = new Set(src.map((i) => i.from.split('/')[1]));
    expect([...layers].filter((l) => !named.has(l))).toEqual([]);
  });
});

describe('the import checker', () => {
  const check = (from: string, source: string) => violations(importsOf(from, source)).map((v) => v.why);

  it('fails an import up the order, a re-export and a dynamic import alike', () => {
    expect(check('src/gpu/device.ts', "import { conv2d } from '../ops/conv/conv2d.js';")).toEqual([
      'gpu imports ops, which is above it',
    ]);
    expect(check('src/arch/types.ts', "export { Linear } from '../nn/layers.js';")).toEqual([
      'arch imports nn, which is above it',
    ]);
    expect(check('src/io/x.ts', "const m = await import('../sglp/pipeline.js');")).toEqual([
      'io imports sglp, which is above it',
    ]);
    expect(check('src/ops/linalg/gemm.ts', "import type { Gpu } from\n  '../../gpu/device.js';")).toEqual([]);
    expect(check('src/tunables.ts', "import { x } from './io/index.js';")).toEqual([
      'tunables.ts imports io, which is above it',
    ]);
  });

  it('fails portable code that reaches Node, and lets node/ and cli/ do it', () => {
    expect(check('src/api/run.ts', "import { openFileSource } from '../node/files.js';")).toEqual([
      'portable api/ imports node/',
    ]);
    expect(check('src/io/source.ts', "import { readFile } from 'node:fs/promises';")).toEqual([
      "portable io/ imports Node's node:fs/promises",
    ]);
    expect(check('src/gpu/x.ts', "import { create } from 'webgpu';")).toEqual([
      "portable gpu/ imports Node's webgpu",
    ]);
    expect(check('src/cli/main.ts', "import { x } from '../node/files.js';\nimport 'node:os';")).toEqual([]);
    expect(check('src/node/files.ts', "import { readFile } from 'node:fs/promises';")).toEqual([]);
    expect(check('src/node/api.ts', "import { loadModel } from '../api/index.js';")).toEqual([]);
  });

  it('fails cli/ reaching the file system itself: files go through node/', () => {
    expect(check('src/cli/main.ts', "import 'node:fs';")).toEqual([
      'cli/ imports node:fs: files go through node/',
    ]);
    expect(check('src/cli/x.ts', "import { readFile } from 'node:fs/promises';")).toEqual([
      'cli/ imports node:fs/promises: files go through node/',
    ]);
    expect(
      check('src/cli/x.ts', "import { join } from 'path';\nexport { dirname } from 'node:path';"),
    ).toEqual([
      'cli/ imports path: files go through node/',
      'cli/ imports node:path: files go through node/',
    ]);
  });

  it('lets ops/ bring in its shaders and the same row import each other', () => {
    expect(check('src/ops/norm/softmax.ts', "import w from '../../../shaders/softmax.wgsl';")).toEqual([]);
    expect(check('src/train/loop.ts', "import { accuracy } from '../eval/classify.js';")).toEqual([]);
  });

  it('asks for a row for a folder it does not know', () => {
    expect(check('src/plugins/x.ts', "import { a } from '../io/index.js';")).toEqual([
      'plugins is not in LAYER_ORDER: give it a row',
    ]);
  });
});
