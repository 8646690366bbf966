// Where bytes come from. Readers take these instead of whole buffers so that a multi-gigabyte checkpoint is
// read tensor by tensor (a file handle in Node, a Blob or HTTP range requests in a browser) and never held
// twice in memory.

/** Random access to a byte sequence of known size. */
export interface ByteSource {
  /** What to call this source in error messages: a path, a URL or a file name. */
  readonly name: string;
  readonly size: number;
  /** Exactly `length` bytes from `offset`; rejects rather than return fewer. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Releases what the source holds (a file handle); reads after it fail. */
  close?(): Promise<void>;
}

/** A directory-like container of named files: a model directory on disk, a URL prefix, an in-memory map. */
export interface DirectorySource {
  readonly name: string;
  /** Whether `file` (a plain name, no separators) exists. */
  has(file: string): Promise<boolean>;
  open(file: string): Promise<ByteSource>;
}

/** A ByteSource over bytes already in memory (tests, browser uploads, small files). */
export function bytesSource(bytes: Uint8Array, name: string): ByteSource {
  return {
    name,
    size: bytes.byteLength,
    async read(offset, length) {
      if (!(offset >= 0 && length >= 0 && offset + length <= bytes.byteLength)) {
        throw new RangeError(
          `${name}: read of ${length} bytes at ${offset} is outside ${bytes.byteLength} bytes`,
        );
      }
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** A DirectorySource over in-memory files, keyed by name. */
export function memoryDirectory(
  files: Readonly<Record<string, Uint8Array>>,
  name = 'memory',
): DirectorySource {
  return {
    name,
    async has(file) {
      return Object.hasOwn(files, file);
    },
    async open(file) {
      if (!Object.hasOwn(files, file)) throw new Error(`${name}/${file}: no such file`);
      return bytesSource(files[file], `${name}/${file}`);
    },
  };
}

/** The whole content of a source (for small files: JSON, labels). */
export function readAll(source: ByteSource): Promise<Uint8Array> {
  return source.read(0, source.size);
}

/** A file of a directory source as UTF-8 text, closing it afterwards. */
export async function readText(dir: DirectorySource, file: string): Promise<string> {
  const source = await dir.open(file);
  let bytes: Uint8Array;
  try {
    bytes = await readAll(source);
  } finally {
    await source.close?.();
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${source.name}: not valid UTF-8 text`);
  }
}
