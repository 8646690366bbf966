// A kernel's uniforms, declared once: field names and WGSL types in order. The declaration writes the
// WGSL `struct Params` the shader sees and packs the values a dispatch gives by name into the bytes of
// that struct, so the shader and the code that fills it cannot drift apart: a field missing, extra or
// of the wrong kind is an error naming the field, where matching by position failed silently.

/** A scalar uniform: a number. */
export type ScalarType = 'u32' | 'i32' | 'f32';
/** An array of vec4 (uniform arrays need 16-byte elements): up to 4·N numbers, the rest zero. */
export type ArrayType = `array<vec4${'u' | 'i' | 'f'}, ${number}>`;
export type UniformType = ScalarType | ArrayType;

/** Field name → WGSL type, in struct order (a string-keyed object keeps the order it was written in). */
export type UniformDecl = Readonly<Record<string, UniformType>>;

/** What a dispatch gives for a declaration: every field by name, numbers for scalars, lists for arrays. */
export type UniformValues<D extends UniformDecl> = {
  readonly [K in keyof D]: D[K] extends ScalarType ? number : ArrayLike<number>;
};

/** Every WGSL struct's members start on their alignment; uniform buffers are bound in 16-byte units. */
const STRUCT_ALIGN = 16;

interface Field {
  name: string;
  /** 'u32' | 'i32' | 'f32': the word type of the field (an array's element scalar). */
  scalar: ScalarType;
  /** Word offset in the struct. */
  word: number;
  /** Words the field holds: 1 for a scalar, 4·N for an array. */
  words: number;
  isArray: boolean;
}

const ARRAY = /^array<vec4([uif]), ([1-9][0-9]*)>$/;
const IDENT = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * The layout of one `struct Params`: generated WGSL text and by-name packing. Build it once per kernel
 * family (module scope), with `uniforms({...})`, and hand it to every dispatch of that family.
 */
export class UniformLayout<D extends UniformDecl = UniformDecl> {
  /** The WGSL declaration, padded to a whole number of 16-byte units with `_padN` words. */
  readonly struct: string;
  /** Bytes the packed values take (a multiple of 16). */
  readonly byteLength: number;
  private readonly fields: readonly Field[];
  private readonly names: ReadonlySet<string>;

  constructor(readonly decl: D) {
    const fields: Field[] = [];
    const lines: string[] = [];
    let word = 0;
    for (const [name, type] of Object.entries(decl)) {
      if (!IDENT.test(name) || name.startsWith('_pad')) {
        throw new TypeError(`uniform field "${name}" is not a WGSL name (letters, digits, _; not _pad…)`);
      }
      const array = ARRAY.exec(type);
      let f: Field;
      if (array) {
        const scalar = ({ u: 'u32', i: 'i32', f: 'f32' } as const)[array[1] as 'u' | 'i' | 'f'];
        // vec4 arrays start on 16 bytes; the skipped words are named so the struct shows the real layout.
        f = { name, scalar, word: Math.ceil(word / 4) * 4, words: 4 * Number(array[2]), isArray: true };
      } else if (type === 'u32' || type === 'i32' || type === 'f32') {
        f = { name, scalar: type, word, words: 1, isArray: false };
      } else {
        throw new TypeError(
          `uniform field "${name}" has type "${type}": use u32, i32, f32 or array<vec4T, N>`,
        );
      }
      for (let w = word; w < f.word; w++) lines.push(`  _pad${w}: u32,`);
      lines.push(`  ${name}: ${type},`);
      fields.push(f);
      word = f.word + f.words;
    }
    if (fields.length === 0) throw new TypeError('a uniform declaration needs at least one field');
    const total = Math.ceil(word / (STRUCT_ALIGN / 4)) * (STRUCT_ALIGN / 4);
    for (let w = word; w < total; w++) lines.push(`  _pad${w}: u32,`);
    this.struct = `struct Params {\n${lines.join('\n')}\n}\n`;
    this.byteLength = total * 4;
    this.fields = fields;
    this.names = new Set(fields.map((f) => f.name));
  }

  /**
   * Writes `values` into `words` (a Uint32Array view; its Int32Array and Float32Array twins over the same
   * bytes) from word `at` on. Every declared field must be given with a value its type holds exactly;
   * anything else is an error naming the field.
   */
  pack(values: UniformValues<D>, out: PackTarget, at = 0): void {
    const given = values as Readonly<Record<string, number | ArrayLike<number>>>;
    for (const name in given) {
      if (!this.names.has(name)) throw this.error(name, 'is not declared');
    }
    for (const f of this.fields) {
      const v = given[f.name];
      if (v === undefined) throw this.error(f.name, 'is missing');
      if (!f.isArray) {
        if (typeof v !== 'number') throw this.error(f.name, `must be a number (${f.scalar}), got ${show(v)}`);
        write(this, f, v, out, at + f.word);
        continue;
      }
      if (typeof v !== 'object' || v === null || typeof v.length !== 'number') {
        throw this.error(f.name, `must be a list of up to ${f.words} numbers, got ${show(v)}`);
      }
      if (v.length > f.words) throw this.error(f.name, `holds ${f.words} numbers, got ${v.length}`);
      for (let i = 0; i < f.words; i++) write(this, f, i < v.length ? v[i] : 0, out, at + f.word + i);
    }
  }

  /** The values packed into a fresh buffer (tests, and callers without an arena). */
  packed(values: UniformValues<D>): Uint32Array {
    const out = packTarget(new ArrayBuffer(this.byteLength));
    this.pack(values, out);
    return out.u32;
  }

  /** @internal */
  error(field: string, what: string): UniformError {
    const fields = this.fields.map((f) => f.name).join(', ');
    return new UniformError(field, `uniform "${field}" ${what} (struct Params: ${fields})`);
  }
}

/** A mismatch between a dispatch's uniform values and the kernel's declaration. */
export class UniformError extends TypeError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'UniformError';
  }
}

/** Three views of the same bytes, so packing writes each word in its own type without conversions. */
export interface PackTarget {
  u32: Uint32Array;
  i32: Int32Array;
  f32: Float32Array;
}

export function packTarget(
  buffer: ArrayBufferLike,
  byteOffset = 0,
  byteLength = buffer.byteLength,
): PackTarget {
  const n = byteLength / 4;
  return {
    u32: new Uint32Array(buffer, byteOffset, n),
    i32: new Int32Array(buffer, byteOffset, n),
    f32: new Float32Array(buffer, byteOffset, n),
  };
}

/** Declares a kernel's uniforms (see UniformLayout); `const` keeps the field names in the types. */
export function uniforms<const D extends UniformDecl>(decl: D): UniformLayout<D> {
  return new UniformLayout(decl);
}

function write(layout: UniformLayout, f: Field, v: number, out: PackTarget, word: number): void {
  if (f.scalar === 'f32') {
    if (typeof v !== 'number') throw layout.error(f.name, `must hold numbers (f32), got ${show(v)}`);
    out.f32[word] = v;
  } else if (f.scalar === 'u32') {
    if (!(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) {
      throw layout.error(f.name, `must be a whole number in [0, 2^32) (u32), got ${show(v)}`);
    }
    out.u32[word] = v;
  } else {
    if (!(Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff)) {
      throw layout.error(f.name, `must be a whole number in [-2^31, 2^31) (i32), got ${show(v)}`);
    }
    out.i32[word] = v;
  }
}

function show(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  return Array.isArray(v) ? `[${v.join(', ')}]` : typeof v;
}
