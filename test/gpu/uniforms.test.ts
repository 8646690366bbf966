import { describe, expect, it } from 'vitest';
import { kernelSource, pipelineKey } from '../../src/gpu/pipelines.js';
import { specialise } from '../../src/gpu/shader.js';
import { UniformError, uniforms } from '../../src/gpu/uniforms.js';
import { useGpu } from '../helpers/gpu.js';

const params = uniforms({ rows: 'u32', pad: 'i32', eps: 'f32', shape: 'array<vec4u, 2>' });

function fails(fn: () => unknown): UniformError {
  try {
    fn();
  } catch (e) {
    if (e instanceof UniformError) return e;
    throw e;
  }
  throw new Error('expected a UniformError');
}

describe('uniform declarations', () => {
  it('generate the WGSL struct, aligned and padded to 16 bytes', () => {
    expect(params.struct).toBe(
      'struct Params {\n  rows: u32,\n  pad: i32,\n  eps: f32,\n  _pad3: u32,\n  shape: array<vec4u, 2>,\n}\n',
    );
    expect(params.byteLength).toBe(48);
    expect(uniforms({ n: 'u32' }).struct).toBe(
      'struct Params {\n  n: u32,\n  _pad1: u32,\n  _pad2: u32,\n  _pad3: u32,\n}\n',
    );
  });

  it('pack values by name, each word in its declared type, arrays zero-filled', () => {
    const words = params.packed({ eps: 0.5, shape: [2, 3, 4], pad: -1, rows: 7 });
    const f32 = new Float32Array(words.buffer);
    expect(Array.from(words)).toEqual([7, 0xffffffff, f32bits(0.5), 0, 2, 3, 4, 0, 0, 0, 0, 0]);
    expect(f32[2]).toBe(0.5);
  });

  it('name the field of a missing, extra or mistyped value', () => {
    const ok = { rows: 1, pad: 0, eps: 1, shape: [] };
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ pad: 0, eps: 1, shape: [] }, 'rows', /"rows" is missing/],
      [{ ...ok, row: 1 }, 'row', /"row" is not declared .*rows, pad, eps, shape/],
      [{ ...ok, rows: -1 }, 'rows', /"rows" must be a whole number in \[0, 2\^32\) \(u32\), got -1/],
      [{ ...ok, rows: 1.5 }, 'rows', /u32/],
      [{ ...ok, pad: 2 ** 31 }, 'pad', /i32/],
      [{ ...ok, eps: '1' }, 'eps', /"eps" must be a number \(f32\)/],
      [{ ...ok, rows: true }, 'rows', /"rows" must be a number/],
      [{ ...ok, shape: 3 }, 'shape', /"shape" must be a list of up to 8 numbers/],
      [{ ...ok, shape: [1, 2, 3, 4, 5, 6, 7, 8, 9] }, 'shape', /"shape" holds 8 numbers, got 9/],
      [{ ...ok, shape: [0.5] }, 'shape', /u32/],
    ];
    for (const [values, field, message] of cases) {
      // The types catch these at compile time; the runtime check is for JavaScript callers and casts.
      const e = fails(() => params.packed(values as never));
      expect(e.field, JSON.stringify(values)).toBe(field);
      expect(e.message).toMatch(message);
    }
  });

  it('reject names WGSL cannot take and types it cannot bind', () => {
    expect(() => uniforms({ 'bad name': 'u32' })).toThrow(/not a WGSL name/);
    expect(() => uniforms({ _pad0: 'u32' })).toThrow(/not a WGSL name/);
    expect(() => uniforms({ v: 'vec3f' as never })).toThrow(/"v" has type "vec3f"/);
    expect(() => uniforms({})).toThrow(/at least one field/);
  });
});

describe('shader templates with uniforms and includes', () => {
  const layout = uniforms({ n: 'u32' });
  it('include the generated struct and shared snippets, nested', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: WGSL templates use ${NAME} placeholders.
    const includes = { outer: 'fn outer() {}\n#include inner\n', inner: 'const K = ${K}u;\n' };
    const code = specialise(
      '#include params\n#include outer\nfn main() {}\n',
      { K: 3 },
      { params: layout, includes },
    );
    expect(code).toContain(layout.struct.trimEnd());
    expect(code).toContain('fn outer() {}\nconst K = 3u;');
  });

  it('refuse hand-written structs, unknown includes and declarations never included', () => {
    expect(() => specialise('struct Params { n: u32 }', {}, { params: layout })).toThrow(/by hand/);
    expect(() => specialise('fn main() {}', {}, { params: layout })).toThrow(/no `#include params`/);
    expect(() => specialise('#include params', {})).toThrow(/declares no uniforms/);
    expect(() => specialise('#include tree', {}, { includes: { row: '' } })).toThrow(/"tree".*has: row/);
    expect(() => specialise('#include a', {}, { includes: { a: '#include a' } })).toThrow(/nest deeper/);
  });

  it('derive the cache key from the program object, generators included', () => {
    const spec = {
      name: 'gen',
      template: (d: Readonly<Record<string, unknown>>) => `#include params\nconst X = ${d.x}u;\n`,
      defines: { x: 5, flag: true },
      params: layout,
    };
    expect(pipelineKey(spec)).toBe('gen(flag=true,x=5)');
    expect(kernelSource(spec)).toContain('const X = 5u;');
  });
});

describe('dispatches with declared uniforms', () => {
  const getGpu = useGpu();
  const layout = uniforms({ n: 'u32', scale: 'f32' });
  const kernel = {
    name: 'test.scale',
    template: [
      '#include params',
      '@group(0) @binding(0) var<storage, read_write> X: array<f32>;',
      '@group(0) @binding(1) var<uniform> p: Params;',
      '@compute @workgroup_size(4) fn main(@builtin(global_invocation_id) g: vec3u) {',
      '  if (g.x < p.n) { X[g.x] = X[g.x] * p.scale; }',
      '}',
    ].join('\n'),
    defines: {},
    params: layout,
  };

  it('pack the values by name into the uniform buffer', async () => {
    const gpu = await getGpu();
    const x = gpu.tensor([1, 2, 3, 4], [4]);
    gpu.dispatch({ kernel, buffers: [x], uniforms: { scale: 0.5, n: 3 }, workgroups: [1] });
    expect(Array.from(await gpu.readF32(x))).toEqual([0.5, 1, 1.5, 4]);
    x.dispose();
  });

  it('refuse a mismatch before recording anything, naming the field', async () => {
    const gpu = await getGpu();
    const x = gpu.tensor([1, 2, 3, 4], [4]);
    const before = gpu.counters.dispatches;
    const bad = { n: 3, scal: 0.5 } as never;
    expect(() => gpu.dispatch({ kernel, buffers: [x], uniforms: bad, workgroups: [1] })).toThrow(
      /uniform "scal" is not declared \(struct Params: n, scale\)/,
    );
    expect(() => gpu.dispatch({ kernel, buffers: [x], workgroups: [1] })).toThrow(/declares uniforms/);
    expect(gpu.counters.dispatches).toBe(before);
    expect(Array.from(await gpu.readF32(x))).toEqual([1, 2, 3, 4]);
    x.dispose();
  });
});

function f32bits(x: number): number {
  return new Uint32Array(new Float32Array([x]).buffer)[0];
}
