// All-or-nothing results on the command line: the files are written into a staging directory beside
// --out (src/node/staging.ts) and renamed into place once every one is complete; a failure or a stop
// request removes the staging directory, so --out holds the complete result or nothing.

import { isFsError, plainFsError } from '../node/files.js';
import { stageDirectory } from '../node/staging.js';
import { makeParents } from './preflight.js';

/**
 * Runs `write(dir)` with `dir` the staging directory of `out`, then renames it to `out` unless `signal`
 * asked to stop meanwhile (a stop means nothing is written).
 */
export async function writeStaged(
  out: string,
  signal: AbortSignal | undefined,
  write: (dir: string) => Promise<void>,
): Promise<void> {
  await makeParents(out);
  const staged = await stageDirectory(out);
  try {
    await write(staged.path);
    signal?.throwIfAborted();
    await staged.commit();
  } catch (err) {
    await staged.discard();
    // A full disk or the like: name --out, not the hidden staging file it happened in.
    if (isFsError(err)) {
      const cause = (err as Error).cause ?? err;
      throw new Error(`${plainFsError(cause, out, 'writing').message}; nothing was written`, { cause });
    }
    throw err;
  }
}
