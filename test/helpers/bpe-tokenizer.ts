// A tiny byte-level BPE tokenizer.json (GPT-2 style) written by hand, for the tokenizer and text tests.

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to code points from 256 on. */
function bytesToUnicode(): Map<number, string> {
  const bs: number[] = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  return new Map(bs.map((b, i) => [b, String.fromCodePoint(cs[i])]));
}

/** Merges and the ids they get: "<s>" = 0, byte b = b + 1, then he 257, ll 258, Ġt 259, Ġthe 260. */
export const BPE_MERGES = ['h e', 'l l', 'Ġ t', 'Ġt he'];

export function tinyBpeTokenizerJson(): string {
  const u = bytesToUnicode();
  const vocab: Record<string, number> = { '<s>': 0 };
  for (let b = 0; b < 256; b++) vocab[u.get(b) as string] = b + 1;
  for (const m of BPE_MERGES) vocab[m.replace(' ', '')] = Object.keys(vocab).length;
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      {
        id: 0,
        content: '<s>',
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: BPE_MERGES,
    },
  });
}
