import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/io/errors.js';
import { memoryDirectory } from '../../src/io/source.js';
import { byteTokenizer, parseTokenizer, readTokenizer } from '../../src/io/tokenizer.js';
import { tinyBpeTokenizerJson } from '../helpers/bpe-tokenizer.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('byteTokenizer', () => {
  it('gives UTF-8 bytes as ids and decodes them back', () => {
    const t = byteTokenizer();
    expect(t.vocabSize).toBe(256);
    expect(t.encode('aé€')).toEqual([0x61, 0xc3, 0xa9, 0xe2, 0x82, 0xac]);
    expect(t.decode(t.encode('héllo\n'))).toBe('héllo\n');
    expect(() => t.decode([65, 256])).toThrow('id 256 at 1 is not a byte value');
  });
});

describe('parseTokenizer (tokenizer.json)', () => {
  it('runs byte-level BPE merges, adds no special tokens and decodes back', () => {
    const t = parseTokenizer(tinyBpeTokenizerJson());
    expect(t.kind).toBe('tokenizer.json');
    expect(t.vocabSize).toBe(261);
    // he ll o | Ġthe | Ġ c a f Ã © (é as two byte symbols): bytes are id = byte + 1.
    expect(t.encode('hello the café')).toEqual([257, 258, 112, 260, 33, 100, 98, 103, 196, 170]);
    expect(t.decode(t.encode('hello the café'))).toBe('hello the café');
  });

  it('names the file when it is not a tokenizer.json', () => {
    expect(() => parseTokenizer('{', undefined, 'm/tokenizer.json')).toThrow(FormatError);
    expect(() => parseTokenizer('{', undefined, 'm/tokenizer.json')).toThrow(
      /^m\/tokenizer.json: not valid JSON/,
    );
    expect(() => parseTokenizer('[1]', undefined, 'm/tokenizer.json')).toThrow(
      'm/tokenizer.json: expected a JSON object',
    );
    expect(() => parseTokenizer('{"version":"1.0"}', undefined, 'm/tokenizer.json')).toThrow(
      'm/tokenizer.json: no "model" object',
    );
  });
});

describe('readTokenizer', () => {
  it('reads tokenizer.json from a model directory, or falls back to bytes', async () => {
    const withJson = await readTokenizer(
      memoryDirectory(
        { 'tokenizer.json': utf8(tinyBpeTokenizerJson()), 'tokenizer_config.json': utf8('{}') },
        'm',
      ),
    );
    expect(withJson.name).toBe('m/tokenizer.json');
    expect(withJson.encode(' the')).toEqual([260]);
    const bytes = await readTokenizer(memoryDirectory({}, 'm'));
    expect(bytes.kind).toBe('bytes');
    expect(bytes.encode(' the')).toEqual([32, 116, 104, 101]);
  });
});
