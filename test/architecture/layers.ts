// The layer order of the code (docs/architecture.md, "Layers") as one table, and a checker that reads every
// import of a set of files and reports those that point up the order or reach Node from portable code.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import ts from 'typescript';

/**
 * Lowest first; a file may import from its own row and the rows below. Names are folders under src/ (or
 * a file directly under src/; `shaders` is the top-level shaders/ folder).
 *
 * The diagram draws node/ at the bottom because it is where the platform is touched; by imports it is a
 * front end's helper: it wraps the portable library for Node (node/api.ts imports api/, node/index.ts
 * re-exports src/index.ts), so it ranks just below cli/, and no portable code may import it (PORTABLE).
 */
export const LAYER_ORDER: readonly (readonly string[])[] = [
  ['tunables.ts', 'num'], // tuned constants; number formats (half floats) that gpu/ and io/ share
  ['io'], // safetensors, configs, datasets, tokenizer: pure bytes in and out
  ['gpu'], // device, tensors, buffer pool, pipeline cache, uniforms, dispatch
  ['ops', 'shaders'], // one op family per file and its WGSL
  ['arch'], // pure model descriptions (no GPU)
  ['nn'], // runnable models and layers
  ['train', 'eval'], // optimisers, fine-tuning; accuracy, perplexity
  ['sglp'], // the method
  ['api'], // the one front door
  ['report'], // renders the method's report
  ['index.ts'], // the portable library's entry
  ['node'], // Node's files, Dawn device and waiter around the library
  ['cli'], // the command line
];

/** Layers that may import node/ and Node's built-in modules; everything else runs in browsers and Deno. */
export const NODE_ONLY: ReadonlySet<string> = new Set(['node', 'cli']);

/**
 * Node-only layers that still may not touch the file system themselves: the commands read and write files
 * through node/'s small functions (node/files.ts, node/out-location.ts), so that every file access is in one
 * layer (docs/architecture.md, "Layers").
 */
export const NO_FILE_SYSTEM: ReadonlySet<string> = new Set(['cli']);

/** Node's file-system and path modules (with and without the `node:` prefix). */
const FILE_SYSTEM_MODULES = new Set(['fs', 'fs/promises', 'path', 'path/posix', 'path/win32']);
const isFileSystem = (spec: string) => FILE_SYSTEM_MODULES.has(spec.replace(/^node:/, ''));

/** Packages only Node can load (the Dawn binding), besides `node:*` built-ins. */
const NODE_PACKAGES = new Set(['webgpu']);

export interface Import {
  /** The importing file, relative to the repository root. */
  from: string;
  /** The specifier as written. */
  spec: string;
  /** The file it names, relative to the root (relative specifiers only). */
  to?: string;
}

export interface Violation extends Import {
  why: string;
}

const rank = new Map<string, number>();
LAYER_ORDER.forEach((row, i) => {
  for (const name of row) rank.set(name, i);
});

/** The layer of a path relative to the root: src/<layer>/..., src/<file>.ts, or shaders/. */
export function layerOf(path: string): string | undefined {
  const parts = path.split('/');
  if (parts[0] === 'shaders') return 'shaders';
  return parts[0] === 'src' && parts.length > 1 ? parts[1] : undefined;
}

/** Every import, re-export and dynamic import of one source text (TypeScript's own scanner). */
export function importsOf(from: string, source: string): Import[] {
  const info = ts.preProcessFile(source, true, true);
  return info.importedFiles.map(({ fileName: spec }) => {
    if (!spec.startsWith('.')) return { from, spec };
    const to = normalize(join(dirname(from), spec)).replace(/\.js$/, '.ts');
    return { from, spec, to };
  });
}

/**
 * The imports that break the order: up a row, into node/ from portable code, Node built-ins there, or the
 * file system from cli/.
 */
export function violations(imports: readonly Import[]): Violation[] {
  const out: Violation[] = [];
  for (const imp of imports) {
    const fromLayer = layerOf(imp.from);
    if (fromLayer === undefined) continue;
    const fromRank = rank.get(fromLayer);
    if (fromRank === undefined) {
      out.push({ ...imp, why: `${fromLayer} is not in LAYER_ORDER: give it a row` });
      continue;
    }
    const portable = !NODE_ONLY.has(fromLayer);
    if (!imp.to) {
      const nodeOnly = imp.spec.startsWith('node:') || NODE_PACKAGES.has(imp.spec);
      if (portable && nodeOnly)
        out.push({ ...imp, why: `portable ${fromLayer}/ imports Node's ${imp.spec}` });
      else if (NO_FILE_SYSTEM.has(fromLayer) && isFileSystem(imp.spec)) {
        out.push({ ...imp, why: `${fromLayer}/ imports ${imp.spec}: files go through node/` });
      }
      continue;
    }
    const toLayer = layerOf(imp.to);
    if (toLayer === undefined || toLayer === fromLayer) continue;
    const toRank = rank.get(toLayer);
    if (toRank === undefined) {
      out.push({ ...imp, why: `${toLayer} is not in LAYER_ORDER: give it a row` });
    } else if (portable && NODE_ONLY.has(toLayer)) {
      out.push({ ...imp, why: `portable ${fromLayer}/ imports ${toLayer}/` });
    } else if (toRank > fromRank) {
      out.push({ ...imp, why: `${fromLayer} imports ${toLayer}, which is above it` });
    }
  }
  return out;
}

/** Every .ts file under `dir` (relative to root), sorted. */
export function sourceFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(join(root, d), { withFileTypes: true })) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** The imports of every .ts file under `dir`. */
export function importsUnder(root: string, dir: string): Import[] {
  return sourceFiles(root, dir).flatMap((f) => importsOf(f, readFileSync(join(root, f), 'utf8')));
}

/** `from -> to` for an allow-list entry and for messages. */
export function edge(v: Import): string {
  return `${v.from} -> ${v.to ?? v.spec}`;
}
