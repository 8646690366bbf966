// Byte n-gram baselines for MODEL_CARD.md: perplexity of add-one unigram and bigram byte models, and of a
// bigram interpolated with the unigram (weight tuned on the last 5% of the train split, then refit on all of
// it), counted on the train split of `text:FILE` (first 95% of the bytes) and scored on exactly the tokens
// `sglp eval --data text:FILE --split test --seq-len T` scores: tokens 2..T of each full window of the test split.
// Usage: node ngram-baseline.mjs FILE [T]
import { readFileSync } from 'node:fs';

const [file, tArg] = process.argv.slice(2);
if (!file) throw new Error('usage: node ngram-baseline.mjs FILE [SEQ_LEN]');
const T = Number(tArg ?? 128);
const bytes = readFileSync(file);
const cut = Math.floor((bytes.length * 95) / 100);
const train = bytes.subarray(0, cut);
const test = bytes.subarray(cut);
const V = 256;

function fit(data) {
  const uni = new Float64Array(V);
  const bi = new Float64Array(V * V);
  for (let i = 0; i < data.length; i++) {
    uni[data[i]]++;
    if (i > 0) bi[data[i - 1] * V + data[i]]++;
  }
  return { uni, bi, n: data.length };
}

/** (previous byte, byte) pairs scored: positions 1..T-1 of each full window. */
function* scored(data) {
  const windows = Math.floor(data.length / T);
  for (let w = 0; w < windows; w++) for (let t = 1; t < T; t++) yield [data[w * T + t - 1], data[w * T + t]];
}

function perplexity(data, prob) {
  let nll = 0;
  let n = 0;
  for (const [a, b] of scored(data)) {
    nll -= Math.log(prob(a, b));
    n++;
  }
  return { perplexity: Math.exp(nll / n), nll: nll / n, tokens: n };
}

const models = (m) => {
  const rowSum = new Float64Array(V);
  for (let a = 0; a < V; a++) for (let b = 0; b < V; b++) rowSum[a] += m.bi[a * V + b];
  const uni = (b) => (m.uni[b] + 1) / (m.n + V);
  const bi = (a, b) => (m.bi[a * V + b] + 1) / (rowSum[a] + V);
  const mix = (lambda) => (a, b) =>
    lambda * (rowSum[a] > 0 ? m.bi[a * V + b] / rowSum[a] : 0) + (1 - lambda) * uni(b);
  return { uni, bi, mix };
};

// Interpolation weight from a held-out tail of the train split.
const inner = Math.floor(train.length * 0.95);
const dev = models(fit(train.subarray(0, inner)));
let best = { lambda: 0, nll: Infinity };
for (let l = 0; l <= 0.99; l += 0.01) {
  const r = perplexity(train.subarray(inner), dev.mix(l));
  if (r.nll < best.nll) best = { lambda: Math.round(l * 100) / 100, nll: r.nll };
}
const full = models(fit(train));
const result = {
  file,
  seqLen: T,
  unigram: perplexity(test, full.uni),
  bigram: perplexity(test, full.bi),
  bigramInterpolated: { lambda: best.lambda, ...perplexity(test, full.mix(best.lambda)) },
};
console.log(JSON.stringify(result, null, 2));
