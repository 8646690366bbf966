// Text data for a language model, from bytes, a Blob/File or a URL: UTF-8 text tokenized with the model's
// tokenizer (tokenizer.json, or UTF-8 bytes without one), split 95 / 5 into train and test, each cut into
// windows of seqLen tokens (io/text-data.ts, the `text:FILE` contract of the CLI).

import { OptionError } from '../io/option-error.js';
import { DEFAULT_SEQ_LEN, type TextWindows, textWindows } from '../io/text-data.js';
import { utf8ErrorOffset } from '../io/utf8.js';
import type { LanguageModel } from './model-lm.js';
import type { FileData } from './sources.js';

export type { TextWindows } from '../io/text-data.js';

/** Both splits of a text, as windows of one length. */
export interface TextData {
  readonly train: TextWindows;
  readonly test: TextWindows;
}

export interface TextDataOptions {
  /** Tokens per window (default 128); at most the model's max_position_embeddings. */
  readonly seqLen?: number;
  /** For messages and reports (default: the file's name, the URL, or "text"). */
  readonly name?: string;
}

async function readBytes(text: FileData | string | URL): Promise<{ bytes: Uint8Array; name: string }> {
  if (text instanceof Uint8Array) return { bytes: text, name: 'text' };
  if (text instanceof Blob) {
    const name =
      typeof (text as File).name === 'string' && (text as File).name ? (text as File).name : 'text';
    return { bytes: new Uint8Array(await text.arrayBuffer()), name };
  }
  const url = new URL(String(text), (globalThis as { location?: { href?: string } }).location?.href);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url.href}: HTTP ${res.status} ${res.statusText}`.trim());
  return { bytes: new Uint8Array(await res.arrayBuffer()), name: url.href };
}

/**
 * The train and test windows of a UTF-8 text for `model`: bytes, a Blob/File, or a URL to fetch. Invalid
 * UTF-8 is an error naming the byte offset; a test split without one full window is an error too.
 */
export async function loadTextData(
  model: Pick<LanguageModel, 'tokenizer' | 'config' | 'name'>,
  text: FileData | string | URL,
  options: TextDataOptions = {},
): Promise<TextData> {
  const seqLen = options.seqLen ?? DEFAULT_SEQ_LEN;
  if (!Number.isSafeInteger(seqLen) || seqLen < 2) {
    throw new OptionError(
      'seqLen',
      (n) => `${n('seqLen')} must be an integer >= 2 (one token predicts the next), got ${seqLen}`,
    );
  }
  const max = model.config.max_position_embeddings;
  if (seqLen > max) {
    throw new OptionError(
      'seqLen',
      (n) =>
        `${n('seqLen')} ${seqLen}: ${model.name} takes at most ${max} positions (max_position_embeddings)`,
    );
  }
  const read = await readBytes(text);
  const name = options.name ?? read.name;
  const bad = utf8ErrorOffset(read.bytes);
  if (bad >= 0) {
    const byte = read.bytes[bad].toString(16).padStart(2, '0');
    throw new Error(`${name}: not valid UTF-8 text (byte 0x${byte} at byte offset ${bad})`);
  }
  const ids = model.tokenizer.encode(new TextDecoder('utf-8').decode(read.bytes));
  const train = textWindows(ids, 'train', seqLen, { name });
  const test = textWindows(ids, 'test', seqLen, { name });
  if (test.windows === 0) {
    throw new Error(
      `${name} (test): ${test.splitTokens} tokens (${model.tokenizer.name}), not one full window of seqLen ${seqLen}`,
    );
  }
  return { train, test };
}
