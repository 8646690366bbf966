// The Node side of io/: byte sources over files (positioned reads on one FileHandle, so a checkpoint is
// read tensor by tensor, never whole), model directories, and atomic writes (temp file in the same
// directory, fsync, rename) so an interrupted run never leaves a half-written model behind.

import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { encodeSafetensors, type TensorToWrite } from '../io/safetensors-write.js';
import type { ByteSource, DirectorySource } from '../io/source.js';

/** fs reads and writes are limited to 2 GiB per call; stay well below. */
const IO_CHUNK = 1 << 30;

/** A ByteSource over a file; close() it when done. */
export async function openFileSource(path: string): Promise<ByteSource> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    return {
      name: path,
      size,
      read: (offset, length) => readAt(handle, path, size, offset, length),
      close: () => handle.close(),
    };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

async function readAt(handle: FileHandle, path: string, size: number, offset: number, length: number) {
  if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0)) {
    throw new RangeError(`${path}: bad read of ${length} bytes at ${offset}`);
  }
  if (offset + length > size) {
    throw new RangeError(`${path}: read of ${length} bytes at ${offset} is past its ${size} bytes`);
  }
  // A fresh buffer (not Node's shared pool) so the bytes are aligned for typed-array views of any element size.
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(out, done, Math.min(IO_CHUNK, length - done), offset + done);
    if (bytesRead === 0) {
      throw new Error(`${path}: file ended at ${offset + done} while reading ${length} bytes at ${offset}`);
    }
    done += bytesRead;
  }
  return out;
}

/** A model (or data) directory on disk; file names must be plain names inside it. */
export function directorySource(dir: string): DirectorySource {
  const pathOf = (file: string) => {
    if (file === '' || file === '.' || file === '..' || /[/\\\0]/.test(file)) {
      throw new Error(`${dir}: "${file}" is not a plain file name`);
    }
    return join(dir, file);
  };
  return {
    name: dir,
    async has(file) {
      try {
        return (await stat(pathOf(file))).isFile();
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      }
    },
    open: async (file) => openFileSource(pathOf(file)),
  };
}

export type FileContent = Uint8Array | string | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/**
 * Writes `content` to a temporary file beside `path`, flushes it to disk, then renames it over `path`, so readers
 * see the old file or the complete new one, never a partial one. The temporary file is removed on failure.
 */
export async function writeFileAtomic(path: string, content: FileContent): Promise<void> {
  const dir = dirname(path);
  // The pid in the name lets a later run recognise the temp file of a killed one (staging.ts).
  const temp = join(
    dir,
    `.${basename(path)}.sglp-staging-${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  let handle: FileHandle;
  try {
    handle = await open(temp, 'wx');
  } catch (err) {
    throw plainFsError(err, path);
  }
  try {
    for await (const chunk of chunksOf(content)) await writeAll(handle, chunk);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    if (isFsError(err) || (err as Error | undefined)?.name === 'AbortError')
      throw plainFsError(err, path, 'writing');
    throw new Error(`writing ${path}: ${(err as Error).message}`, { cause: err });
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw plainFsError(err, path);
  }
  await syncDirectory(dir);
}

/** Writes a safetensors file atomically, one tensor in memory at a time when data is given as functions. */
export async function writeSafetensorsFile(
  path: string,
  tensors: Readonly<Record<string, TensorToWrite>> | ReadonlyMap<string, TensorToWrite>,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata).chunks());
}

async function* chunksOf(content: FileContent): AsyncGenerator<Uint8Array> {
  if (typeof content === 'string') yield new TextEncoder().encode(content);
  else if (content instanceof Uint8Array) yield content;
  else yield* content;
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let done = 0;
  while (done < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, done, Math.min(IO_CHUNK, chunk.byteLength - done));
    done += bytesWritten;
  }
}

/** Makes the rename itself durable. Some platforms and file systems cannot fsync a directory; that is fine. */
export async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // EISDIR/EPERM/EINVAL on Windows and some file systems: the data itself is already synced.
  } finally {
    await handle?.close().catch(() => {});
  }
}

export function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** A JSON file's value, or undefined when the file does not exist; bad JSON is an error naming the file. */
export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid JSON: ${(err as Error).message}`);
  }
}

/** What a file-system error code means, in words a user reads (undefined: not a file-system error). */
const FS_ERRORS: Readonly<Record<string, string>> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'it is a directory, not a file',
  EEXIST: 'it already exists',
  ENOTEMPTY: 'the directory is not empty',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many symbolic links',
  EIO: 'an input/output error of the device',
  EXDEV: 'it is on another file system',
  EBUSY: 'it is busy',
  EFBIG: 'the file is too large for the file system',
};

/** Whether `err` is a file-system error this file has words for. */
export function isFsError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && FS_ERRORS[code] !== undefined;
}

/**
 * An fs error as a plain message naming the path the user gave (never a hidden temp name or errno
 * text); other errors pass through unchanged. `doing`: what was being done, e.g. "writing".
 */
export function plainFsError(err: unknown, path: string, doing?: string): Error {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const words = code === undefined ? undefined : FS_ERRORS[code];
  if (words === undefined) return err instanceof Error ? err : new Error(String(err));
  const e = new Error(`${doing ? `${doing} ` : ''}${path}: ${words}`, { cause: err });
  (e as NodeJS.ErrnoException).code = code;
  return e;
}

// Small file-system calls for the commands (src/cli/ imports no node:fs or node:path: docs/architecture.md).

/** `name` (one or more path segments) inside `dir`. */
export function pathIn(dir: string, ...names: string[]): string {
  return join(dir, ...names);
}

/** A whole file's bytes. */
export async function readFileBytes(file: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(file));
}

/** A whole file as UTF-8 text. */
export function readFileText(file: string): Promise<string> {
  return readFile(file, 'utf8');
}

/** The names in a directory; with `missingIsEmpty`, none when it does not exist. */
export async function listDirectory(dir: string, missingIsEmpty = false): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (missingIsEmpty && isNotFound(err)) return [];
    throw err;
  }
}

/** Creates `dir` and its missing parents (nothing when it exists). */
export async function makeDirectory(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}
