// The file-system half of the commands' pre-flight (src/cli/preflight.ts): whether an output location can
// take a new result, creating its missing parents, and reading `text:FILE` data, each failure a
// PreflightError in plain words. Here, not in cli/, because only src/node/ touches the file system
// (docs/architecture.md, "Layers").

import { mkdir, open, readdir, readFile, realpath, stat, unlink } from 'node:fs/promises';
import { dirname, join, parse, resolve } from 'node:path';
import { utf8ErrorOffset } from '../io/utf8.js';
import { isNotFound, plainFsError } from './files.js';
import { cleanStaleStaging } from './staging.js';

/** A problem found before the work; its message names the flags and says what to do. */
export class PreflightError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PreflightError';
  }
}

/**
 * Checks that `out` can take a new result without creating anything: not the input, not a file (for a
 * directory result) or a directory (for a file result), new or empty, and in a place where files can be
 * created (a probe file is created and removed in the nearest existing directory). Stale staging entries
 * of killed runs are removed; the returned lines say so.
 */
export async function checkOutLocation(
  out: string,
  o: { kind: 'dir' | 'file'; input?: string; flag?: string },
): Promise<string[]> {
  const name = o.flag ?? '--out';
  if (out.trim() === '') throw new PreflightError(`${name} is empty; give a path`);
  const target = resolve(out);
  if (o.input !== undefined && (await realOrResolved(o.input)) === (await realOrResolved(out))) {
    throw new PreflightError(`${name} ${out} is the input model; give a new or empty directory`);
  }
  const st = await statOrUndefined(target, name, out);
  let probeDir: string;
  if (st) {
    if (o.kind === 'dir') {
      if (!st.isDirectory()) {
        throw new PreflightError(`${name} ${out} is a file; give a new or empty directory`);
      }
      const entries = await readdir(target).catch((err) => {
        throw plainFsError(err, out);
      });
      const visible = entries.filter((e) => !e.startsWith('.'));
      if (visible.length > 0) {
        throw new PreflightError(`${name} ${out} is not empty; give a new or empty directory`);
      }
      probeDir = target;
    } else {
      if (st.isDirectory()) throw new PreflightError(`${name} ${out} is a directory; give a file name`);
      probeDir = dirname(target);
    }
  } else {
    probeDir = await nearestExistingDirectory(dirname(target), name, out);
  }
  await probeWritable(probeDir, name, out);
  // The staging entry goes beside `out`: its parent must take files too (it is probeDir or below it).
  if (st && o.kind === 'dir') await probeWritable(dirname(target), name, out);
  return cleanStaleStaging(out, name);
}

async function realOrResolved(p: string): Promise<string> {
  try {
    return await realpath(p);
  } catch {
    return resolve(p);
  }
}

async function statOrUndefined(path: string, flagName: string, given: string) {
  try {
    return await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') {
      throw new PreflightError(`${flagName} ${given}: a part of the path is a file, not a directory`);
    }
    throw new PreflightError(`${flagName} ${given}: ${plainFsError(err, given).message}`);
  }
}

/**
 * The nearest existing ancestor of `dir` (itself included), which must be a directory. One stat per
 * level, never a recursive mkdir (that spins under /proc or on a dangling symlink).
 */
async function nearestExistingDirectory(dir: string, flagName: string, given: string): Promise<string> {
  let d = dir;
  for (;;) {
    const st = await statOrUndefined(d, flagName, given);
    if (st) {
      if (!st.isDirectory()) {
        throw new PreflightError(`${flagName} ${given}: ${d} is a file, not a directory`);
      }
      return d;
    }
    const up = dirname(d);
    if (up === d) throw new PreflightError(`${flagName} ${given}: no part of the path exists`);
    d = up;
  }
}

/** Creates and removes a probe file in `dir`; a failure says in words why nothing can be written there. */
async function probeWritable(dir: string, flagName: string, given: string): Promise<void> {
  const probe = join(dir, `.sglp-probe-${process.pid}-${Date.now()}`);
  try {
    const h = await open(probe, 'wx');
    await h.close();
    await unlink(probe);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'EROFS'
        ? `${dir} is on a read-only file system`
        : code === 'EACCES' || code === 'EPERM'
          ? `no permission to create files in ${dir}`
          : code === 'ENOSPC' || code === 'EDQUOT'
            ? `the disk holding ${dir} is full`
            : `files cannot be created in ${dir}`;
    throw new PreflightError(`${flagName} ${given} cannot be written: ${why}`);
  }
}

/**
 * Creates the missing parents of `out` one level at a time (after checkOutLocation found the nearest
 * existing one writable); an error on any level is final.
 */
export async function makeParents(out: string): Promise<void> {
  const missing: string[] = [];
  const root = parse(resolve(out)).root;
  for (let d = dirname(resolve(out)); d !== root; d = dirname(d)) {
    try {
      await stat(d);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw plainFsError(err, d);
      missing.push(d);
    }
  }
  for (const d of missing.reverse()) {
    try {
      await mkdir(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw plainFsError(err, d);
    }
  }
}

/** UTF-8 text of `text:FILE`: a missing file, a directory or bad UTF-8 is an error in plain words. */
export async function readTextData(file: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    if ((await stat(file)).isDirectory()) {
      throw new PreflightError(`--data text:${file}: ${file} is a directory; give a UTF-8 text file`);
    }
    bytes = await readFile(file);
  } catch (err) {
    if (err instanceof PreflightError) throw err;
    if (isNotFound(err)) throw new PreflightError(`--data text:${file}: text file ${file} not found`);
    throw new PreflightError(`--data text:${file}: ${plainFsError(err, file).message}`);
  }
  const bad = utf8ErrorOffset(bytes);
  if (bad >= 0) {
    throw new PreflightError(
      `--data text:${file}: not valid UTF-8 text (byte 0x${bytes[bad].toString(16).padStart(2, '0')} at ` +
        `byte offset ${bad})`,
    );
  }
  return new TextDecoder('utf-8').decode(bytes);
}
