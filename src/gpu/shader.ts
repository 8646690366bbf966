import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import type { UniformLayout } from './uniforms.js';

export type Defines = Readonly<Record<string, number | boolean | string>>;

/** What a template pulls in besides its defines. */
export interface ShaderParts {
  /** The kernel's uniform declaration: `#include params` becomes its `struct Params`. */
  params?: UniformLayout;
  /** Shared WGSL snippets by name (shaders/lib/*.wgsl): `#include NAME` becomes the snippet's text. */
  includes?: Readonly<Record<string, string>>;
}

const INCLUDE = /^[ \t]*#include[ \t]+([A-Za-z0-9_.-]+)[ \t]*$/gm;
const HAND_PARAMS = /^\s*struct\s+Params\b/m;
const MAX_DEPTH = 4;

/**
 * Specialises a WGSL template: first every `#include NAME` line becomes that snippet (`params` is the
 * struct generated from the kernel's uniform declaration; snippets may include others), then `${NAME}`
 * becomes String(defines[NAME]), and `#if ${NAME}` / `#elif` / `#else` / `#endif` select code
 * (wgsl-preprocessor). An unknown name or include is an error, never an empty string; so is a
 * `struct Params` written by hand or a declaration the template never includes.
 */
export function specialise(template: string, defines: Defines, parts: ShaderParts = {}): string {
  if (HAND_PARAMS.test(template)) {
    throw new Error('shader template declares struct Params by hand: declare the uniforms in TypeScript');
  }
  const used = { params: false };
  const source = expand(template, parts, used, 0);
  if (parts.params && !used.params) {
    throw new Error('the kernel declares uniforms but its template has no `#include params` line');
  }
  const split = source.split(/\$\{([A-Z0-9_]+)\}/);
  const strings: string[] = [];
  const values: (number | boolean | string)[] = [];
  for (let i = 0; i < split.length; i++) {
    if (i % 2 === 0) {
      strings.push(split[i]);
      continue;
    }
    const name = split[i];
    if (!(name in defines)) throw new Error(`shader template uses \${${name}} but no value was given`);
    values.push(defines[name]);
  }
  const raw = Object.assign([...strings], { raw: strings });
  return wgsl(raw as unknown as TemplateStringsArray, ...values);
}

function expand(text: string, parts: ShaderParts, used: { params: boolean }, depth: number): string {
  return text.replace(INCLUDE, (_, name: string) => {
    if (name === 'params') {
      if (!parts.params)
        throw new Error('shader template has `#include params` but the kernel declares no uniforms');
      used.params = true;
      return parts.params.struct.trimEnd();
    }
    const snippet = parts.includes?.[name];
    if (snippet === undefined) {
      const known = Object.keys(parts.includes ?? {});
      throw new Error(
        `shader template includes "${name}", which the kernel does not supply (has: ${known.join(', ') || 'none'})`,
      );
    }
    if (depth >= MAX_DEPTH) throw new Error(`shader includes nest deeper than ${MAX_DEPTH} at "${name}"`);
    if (HAND_PARAMS.test(snippet)) throw new Error(`shader snippet "${name}" declares struct Params`);
    return expand(snippet.trimEnd(), parts, used, depth + 1);
  });
}
