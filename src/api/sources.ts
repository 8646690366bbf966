// Where a model's files come from, in any runtime: a DirectorySource, a map of name → bytes or Blob,
// browser File objects (a picked directory or several files), or a base URL read with fetch.

import { type ByteSource, bytesSource, type DirectorySource } from '../io/source.js';

/** A file's content: bytes, or a Blob/File (read slice by slice, never whole). */
export type FileData = Uint8Array | Blob;

/**
 * A model directory's files (`config.json` + `model.safetensors`, or shards + index):
 * - a `DirectorySource` (e.g. `directorySource(path)` from `sglp/node`);
 * - a `Map` or plain object of file name → bytes or Blob;
 * - File objects (`<input type=file webkitdirectory>`'s FileList or an array), matched by base name;
 * - a base URL (`string` or `URL`) whose files are fetched (`new URL('config.json', base)`).
 */
export type ModelSource =
  | DirectorySource
  | ReadonlyMap<string, FileData>
  | Readonly<Record<string, FileData>>
  | Iterable<File>
  | ArrayLike<File>
  | string
  | URL;

/** A ByteSource over a Blob: each read is one slice. */
export function blobSource(blob: Blob, name: string): ByteSource {
  return {
    name,
    size: blob.size,
    async read(offset, length) {
      if (!(offset >= 0 && length >= 0 && offset + length <= blob.size)) {
        throw new RangeError(`${name}: read of ${length} bytes at ${offset} is outside ${blob.size} bytes`);
      }
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
  };
}

function dataSource(data: FileData, name: string): ByteSource {
  return data instanceof Uint8Array ? bytesSource(data, name) : blobSource(data, name);
}

function isDirectorySource(s: unknown): s is DirectorySource {
  const d = s as DirectorySource;
  return typeof d === 'object' && d !== null && typeof d.has === 'function' && typeof d.open === 'function';
}

/** A DirectorySource over named files in memory (bytes or Blobs). */
export function filesDirectory(files: ReadonlyMap<string, FileData>, name = 'files'): DirectorySource {
  return {
    name,
    has: async (file) => files.has(file),
    async open(file) {
      const data = files.get(file);
      if (data === undefined) {
        throw new Error(`${name}/${file}: no such file (given: ${[...files.keys()].join(', ') || 'none'})`);
      }
      return dataSource(data, `${name}/${file}`);
    },
  };
}

/**
 * A DirectorySource over a base URL; `fetchImpl` defaults to the global fetch. With `files`, the names the
 * directory holds, `has` answers from that list instead of asking the server (no 404s for probed files).
 */
export function urlDirectory(
  base: string | URL,
  fetchImpl: typeof fetch = fetch,
  files?: readonly string[],
): DirectorySource {
  const root = new URL(String(base).endsWith('/') ? String(base) : `${String(base)}/`, baseHref());
  const url = (file: string) => {
    if (file === '' || /[/\\]/.test(file))
      throw new Error(`${root.href}: "${file}" is not a plain file name`);
    return new URL(encodeURIComponent(file), root);
  };
  return {
    name: root.href,
    async has(file) {
      if (files) return files.includes(file);
      const res = await fetchImpl(url(file), { method: 'HEAD' });
      return res.ok;
    },
    async open(file) {
      const u = url(file);
      const res = await fetchImpl(u);
      if (!res.ok) throw new Error(`${u.href}: HTTP ${res.status} ${res.statusText}`.trim());
      return bytesSource(new Uint8Array(await res.arrayBuffer()), u.href);
    },
  };
}

/** The page's URL in a browser (so relative bases work), else nothing. */
function baseHref(): string | undefined {
  return (globalThis as { location?: { href?: string } }).location?.href;
}

/** Any ModelSource as a DirectorySource. */
export function toDirectory(source: ModelSource): DirectorySource {
  if (typeof source === 'string' || source instanceof URL) return urlDirectory(source);
  if (isDirectorySource(source)) return source;
  if (source instanceof Map) return filesDirectory(source);
  const list: unknown[] | undefined =
    Symbol.iterator in Object(source)
      ? [...(source as Iterable<unknown>)]
      : typeof (source as ArrayLike<unknown>).length === 'number'
        ? Array.from(source as ArrayLike<unknown>)
        : undefined;
  if (list) {
    const files = new Map<string, FileData>();
    for (const f of list) {
      if (!(f instanceof Blob) || typeof (f as File).name !== 'string') {
        throw new TypeError('loadModel: a list of model files must hold File objects');
      }
      // A picked directory gives "dir/config.json" paths in webkitRelativePath; the name is the base name.
      files.set((f as File).name, f);
    }
    return filesDirectory(files, 'picked files');
  }
  return filesDirectory(new Map(Object.entries(source as Record<string, FileData>)));
}
