// What the command tests share: an io that records stdout/stderr, and a digest of a directory's files
// (to show a command left its input untouched, or that two runs wrote the same bytes).

import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CliIo } from '../../src/cli/progress.js';

/** A non-terminal io whose stdout and stderr writes are kept; `onErr` sees each stderr write too. */
export function captureIo(onErr?: (text: string) => void): { io: CliIo; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: (t) => out.push(t),
    stderr: (t) => {
      err.push(t);
      onErr?.(t);
    },
    tty: false,
  };
  return { io, out, err };
}

/** sha256 of every file in `dir`, by name. */
export async function digest(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of (await readdir(dir)).sort()) {
    out[f] = createHash('sha256')
      .update(await readFile(join(dir, f)))
      .digest('hex');
  }
  return out;
}
