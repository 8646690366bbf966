// Text to token ids: a model directory's tokenizer.json (Hugging Face tokenizers format) through
// @huggingface/tokenizers (pure JS, no dependencies: runs in Node, browsers and Deno and bundles with
// esbuild), or, without tokenizer.json, UTF-8 bytes (token id = byte value, DESIGN.md).

import { Tokenizer } from '@huggingface/tokenizers';
import { FormatError } from './errors.js';
import { type DirectorySource, readText } from './source.js';

export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

export interface TextTokenizer {
  /** Where the ids come from: the file's name, or 'utf-8 bytes'. */
  readonly name: string;
  readonly kind: 'bytes' | 'tokenizer.json';
  /** Every id is below this (the largest id in the vocabulary, added tokens included, plus one). */
  readonly vocabSize: number;
  /**
   * Ids of a text, without special tokens (no BOS/EOS added): a corpus is encoded once and cut into
   * windows, so nothing would mark where a window starts anyway.
   */
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
}

/** UTF-8 bytes: id = byte value, vocabulary 256. */
export function byteTokenizer(): TextTokenizer {
  return {
    name: 'utf-8 bytes',
    kind: 'bytes',
    vocabSize: 256,
    encode: (text) => Array.from(new TextEncoder().encode(text)),
    decode: (ids) => {
      const bad = ids.findIndex((id) => !Number.isInteger(id) || id < 0 || id > 255);
      if (bad >= 0) throw new RangeError(`utf-8 bytes: id ${ids[bad]} at ${bad} is not a byte value`);
      return new TextDecoder().decode(Uint8Array.from(ids));
    },
  };
}

/**
 * A tokenizer from tokenizer.json text (and tokenizer_config.json text when there is one); `file` names
 * the file in errors.
 */
export function parseTokenizer(json: string, config?: string, file = TOKENIZER_FILE): TextTokenizer {
  const parse = (text: string, what: string): Record<string, unknown> => {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (err) {
      throw new FormatError(what, `not valid JSON: ${(err as Error).message}`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw new FormatError(what, 'expected a JSON object');
    return v as Record<string, unknown>;
  };
  const spec = parse(json, file);
  const model = spec.model as { type?: unknown } | undefined;
  if (typeof model !== 'object' || model === null) {
    throw new FormatError(file, 'no "model" object (expected a Hugging Face tokenizers tokenizer.json)');
  }
  const cfg = config === undefined ? {} : parse(config, file.replace(TOKENIZER_FILE, TOKENIZER_CONFIG_FILE));
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(spec, cfg);
  } catch (err) {
    throw new FormatError(
      file,
      `cannot build the tokenizer (model type ${JSON.stringify(model.type)}): ${(err as Error).message}`,
    );
  }
  let vocabSize = 0;
  for (const id of tok.get_vocab(true).values()) vocabSize = Math.max(vocabSize, id + 1);
  return {
    name: file,
    kind: 'tokenizer.json',
    vocabSize,
    encode: (text) => tok.encode(text, { add_special_tokens: false }).ids,
    decode: (ids) => tok.decode([...ids]),
  };
}

/** The tokenizer of a model directory: tokenizer.json (+ tokenizer_config.json) if present, else bytes. */
export async function readTokenizer(dir: DirectorySource): Promise<TextTokenizer> {
  if (!(await dir.has(TOKENIZER_FILE))) return byteTokenizer();
  const json = await readText(dir, TOKENIZER_FILE);
  const config = (await dir.has(TOKENIZER_CONFIG_FILE))
    ? await readText(dir, TOKENIZER_CONFIG_FILE)
    : undefined;
  return parseTokenizer(json, config, `${dir.name}/${TOKENIZER_FILE}`);
}
