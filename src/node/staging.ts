// All-or-nothing output. A command writes every file of its result into a staging entry beside the
// output (same directory, so same file system: the final rename is atomic) and renames it into place
// only when everything is written; an interrupted or failed run removes it. A run killed outright
// (SIGKILL, power loss) cannot clean up, so the staging name carries the writer's process id: the next
// run writing the same output recognises an entry whose process is gone, reports it and removes it.
//
// Names: `.<out's name>.sglp-staging-<pid>` (a directory, or a file for one-file outputs), and the
// atomic-write temp files of files.ts, `.<name>.sglp-staging-<pid>.<random>.tmp`.

import { rmSync } from 'node:fs';
import { mkdir, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { isNotFound, plainFsError, syncDirectory } from './files.js';

const TAG = '.sglp-staging-';

/** Staging entries of this process not yet committed or removed (what a forced exit must delete). */
const active = new Set<string>();

/** The name prefix of every staging entry (and atomic-write temp file) of `out`. */
export function stagingPrefix(out: string): string {
  return `.${basename(resolve(out))}${TAG}`;
}

/** The staging path this process uses for `out`. */
export function stagingPath(out: string): string {
  return join(dirname(resolve(out)), `${stagingPrefix(out)}${process.pid}`);
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return false; // ours: a leftover of an earlier attempt in this process
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the staging entries of `out` whose writer is gone (a killed run) and returns one line per entry
 * removed; an entry whose writer still runs is an error (two runs must not write one output).
 */
export async function cleanStaleStaging(out: string, flag = '--out'): Promise<string[]> {
  const parent = dirname(resolve(out));
  const prefix = stagingPrefix(out);
  let entries: string[];
  try {
    entries = await readdir(parent);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw plainFsError(err, parent);
  }
  const notes: string[] = [];
  for (const name of entries) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)/.exec(name.slice(prefix.length))?.[1]);
    if (!Number.isSafeInteger(pid)) continue;
    const path = join(parent, name);
    if (isAlive(pid)) {
      throw new Error(
        `${flag} ${out}: another sglp run (process ${pid}) is writing it (its unfinished result is ${path}); ` +
          'wait for it to finish or stop it',
      );
    }
    try {
      await rm(path, { recursive: true, force: true });
    } catch (err) {
      throw plainFsError(err, path);
    }
    if (pid !== process.pid) {
      notes.push(`removed the unfinished result of an interrupted run (process ${pid}): ${path}`);
    }
  }
  return notes;
}

/** A staging directory for the result that goes to `out`. */
export interface StagedDirectory {
  /** Write every file of the result here. */
  readonly path: string;
  /** Renames the complete result to `out`; afterwards `out` holds it and the staging directory is gone. */
  commit(): Promise<void>;
  /** Removes the staging directory and what it holds (nothing reaches `out`); safe to call twice. */
  discard(): Promise<void>;
}

/**
 * Creates the staging directory of `out` (its parent must exist: preflight's makeParents). `out` itself
 * must be absent or an empty directory when commit() runs.
 */
export async function stageDirectory(out: string): Promise<StagedDirectory> {
  const path = stagingPath(out);
  const target = resolve(out);
  await rm(path, { recursive: true, force: true });
  try {
    await mkdir(path);
  } catch (err) {
    throw plainFsError(err, dirname(target));
  }
  active.add(path);
  let done = false;
  return {
    path,
    async commit() {
      if (done) throw new Error(`staging of ${out} was already committed or discarded`);
      await replaceEmptyDirectory(path, target);
      done = true;
      active.delete(path);
      await syncDirectory(dirname(target));
    },
    async discard() {
      if (done) return;
      done = true;
      await rm(path, { recursive: true, force: true });
      active.delete(path);
    },
  };
}

/** A staging file for a one-file result (`sglp cka --out FILE`). */
export function stageFile(out: string): { path: string; commit(): Promise<void>; discard(): Promise<void> } {
  const path = stagingPath(out);
  active.add(path);
  return {
    path,
    async commit() {
      try {
        await rename(path, resolve(out));
      } catch (err) {
        throw plainFsError(err, out);
      }
      active.delete(path);
      await syncDirectory(dirname(resolve(out)));
    },
    async discard() {
      await rm(path, { force: true });
      active.delete(path);
    },
  };
}

/** Moves the directory `from` to `to`, which is absent or an empty directory. */
async function replaceEmptyDirectory(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EISDIR') throw plainFsError(err, to);
  }
  // `to` exists. rename(2) replaces an empty directory on Linux, but not everywhere: remove it first. If it
  // holds hidden entries (allowed by the --out check), move the files in one by one instead.
  try {
    await rmdir(to);
    await rename(from, to);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw plainFsError(err, to);
  }
  const names = (await readdir(from)).sort(reportLast);
  for (const name of names) {
    if ((await stat(join(to, name)).catch(() => undefined)) !== undefined) {
      throw new Error(`${to} already holds ${name}; nothing of the new result was written over it`);
    }
  }
  for (const name of names) {
    try {
      await rename(join(from, name), join(to, name));
    } catch (err) {
      throw plainFsError(err, join(to, name));
    }
  }
  await rmdir(from);
}

/** The report files go last, so a reader that finds the report finds the model too. */
function reportLast(a: string, b: string): number {
  const late = (n: string) => (n === 'report.html' ? 2 : n.endsWith('report.json') ? 1 : 0);
  return late(a) - late(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Removes every uncommitted staging entry of this process, synchronously (a forced exit's last act). */
export function discardAllStagingSync(): void {
  for (const path of active) {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch {
      // Best effort: the next run reports and removes what is left.
    }
  }
  active.clear();
}
