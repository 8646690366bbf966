// `text:FILE` data (DESIGN.md): the file's tokens split 95 / 5 (train = the first 95%, rounded down; test =
// the rest), each split cut into non-overlapping windows of seqLen tokens from its start, full windows only.

import type { Split } from './data-spec.js';

export const TEXT_TRAIN_FRACTION_PERCENT = 95;
export const DEFAULT_SEQ_LEN = 128;

export interface TextWindows {
  /** What the windows came from, for messages. */
  readonly name: string;
  readonly split: Split;
  readonly seqLen: number;
  readonly windows: number;
  /** Tokens of the split (the windows hold windows · seqLen of them; the remainder is dropped). */
  readonly splitTokens: number;
  /** windows · seqLen ids, window after window. */
  readonly ids: Int32Array;
}

/** [start, end) of a split in a stream of n tokens. */
export function textSplitRange(n: number, split: Split): [number, number] {
  const cut = Math.floor((n * TEXT_TRAIN_FRACTION_PERCENT) / 100);
  return split === 'train' ? [0, cut] : [cut, n];
}

/** The windows of one split; `limit` keeps the first ones only. */
export function textWindows(
  ids: ArrayLike<number>,
  split: Split,
  seqLen: number = DEFAULT_SEQ_LEN,
  options: { name?: string; limit?: number } = {},
): TextWindows {
  if (!Number.isInteger(seqLen) || seqLen < 2) {
    throw new RangeError(
      `sequence length must be an integer >= 2 (one token predicts the next), got ${seqLen}`,
    );
  }
  const [start, end] = textSplitRange(ids.length, split);
  let windows = Math.floor((end - start) / seqLen);
  if (options.limit !== undefined) windows = Math.min(windows, options.limit);
  const out = new Int32Array(windows * seqLen);
  for (let i = 0; i < out.length; i++) out[i] = ids[start + i];
  return { name: options.name ?? 'text', split, seqLen, windows, splitTokens: end - start, ids: out };
}
