import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';

export type Defines = Readonly<Record<string, number | boolean | string>>;

/**
 * Specialises a WGSL template: `${NAME}` becomes String(defines[NAME]), and `#if ${NAME}` / `#elif` /
 * `#else` / `#endif` select code (wgsl-preprocessor). An unknown name is an error, never an empty string.
 */
export function specialise(template: string, defines: Defines): string {
  const parts = template.split(/\$\{([A-Z0-9_]+)\}/);
  const strings: string[] = [];
  const values: (number | boolean | string)[] = [];
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 0) {
      strings.push(parts[i]);
      continue;
    }
    const name = parts[i];
    if (!(name in defines)) throw new Error(`shader template uses \${${name}} but no value was given`);
    values.push(defines[name]);
  }
  const raw = Object.assign([...strings], { raw: strings });
  return wgsl(raw as unknown as TemplateStringsArray, ...values);
}
