// Dawn prints two warnings on every adapter request on lavapipe ("maxDynamicUniformBuffersPerPipeline-
// Layout artificially reduced …" and the storage twin): Vulkan reports a limit of 1000000 and Dawn clamps
// it. They say nothing a user can act on, and Dawn writes them from native code straight to file
// descriptor 2, past process.stderr. So while the adapter is requested, fd 2 points at an unlinked temp
// file; afterwards it points at the original stderr again, and what was captured is copied there with
// exactly those two lines dropped (by their text; anything else Dawn or we print passes through).
//
// Node cannot dup(2), so the original stderr is reopened through /proc/self/fd (Linux). Where that is
// not possible (another OS, a socket, SGLP_DAWN_WARNINGS=1), nothing is filtered.

import { closeSync, fstatSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The lines dropped: Dawn's limit-clamping warnings, matched by their text. */
const DROPPED =
  /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

/** `text` without Dawn's two limit warnings. */
export function withoutDawnLimitWarnings(text: string): string {
  return text
    .split(/(?<=\n)/)
    .filter((line) => !DROPPED.test(line.replace(/\r?\n$/, '')))
    .join('');
}

/** Runs `fn` with native writes to fd 2 filtered as described above. */
export async function filterDawnWarnings<T>(fn: () => Promise<T>): Promise<T> {
  const swap = divertStderr();
  if (!swap) return fn();
  try {
    return await fn();
  } finally {
    swap.restore();
  }
}

function divertStderr(): { restore(): void } | undefined {
  if (process.platform !== 'linux' || process.env.SGLP_DAWN_WARNINGS === '1') return undefined;
  let saved: number;
  let regular: boolean;
  try {
    regular = fstatSync(2).isFile();
    // A regular file is reopened for appending: 'w' would truncate it.
    saved = openSync('/proc/self/fd/2', regular ? 'a' : 'w');
  } catch {
    return undefined;
  }
  const tempPath = join(tmpdir(), `sglp-stderr-${process.pid}-${Date.now()}`);
  let temp: number;
  try {
    temp = openSync(tempPath, 'wx+', 0o600);
    unlinkSync(tempPath);
  } catch {
    closeSync(saved);
    return undefined;
  }
  // fd 2 is closed and the lowest free descriptor reopened: 2, pointing at the temp file.
  closeSync(2);
  const diverted = openSync(`/proc/self/fd/${temp}`, 'r+');
  if (diverted !== 2) {
    // Something else took fd 2's place (should not happen): put stderr back as it was.
    closeSync(diverted);
    openSync(`/proc/self/fd/${saved}`, regular ? 'a' : 'w');
    closeSync(saved);
    closeSync(temp);
    return undefined;
  }
  return {
    restore() {
      const captured = readAll(temp);
      closeSync(2);
      openSync(`/proc/self/fd/${saved}`, regular ? 'a' : 'w'); // fd 2 again
      closeSync(saved);
      closeSync(temp);
      const kept = withoutDawnLimitWarnings(captured);
      if (kept) writeSync(2, kept);
    },
  };
}

function readAll(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(1 << 16);
  for (let pos = 0; ; ) {
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
    pos += n;
  }
  return Buffer.concat(chunks).toString('utf8');
}
