// The forward and backward work (MACs per GradNorm batch, from the model description) of the default
// GradNorm search, plain (a whole pruned network per candidate) against shared (src/sglp/gradnorm-shared.ts:
// the units before a segment once, the kept units as a trie over the lexicographic candidates). Backward is
// counted as 2x the forward MACs of the candidate network (dx and dW convs). CPU only, no device.
//   npx esbuild bench/gradnorm-work.ts --bundle --platform=node --format=esm --packages=external \
//     --loader:.wgsl=text --outfile=dist/gradnorm-work.js
//   node dist/gradnorm-work.js models/fmnist-resnet56 2:17:5 17:22:3 22:26:2   # MODEL A:B:KEEP ...
import { describeModel } from '../src/arch/describe.js';
import { readRunnableConfig } from '../src/node/model-dir.js';
import { keepSets } from '../src/sglp/candidates.js';

const [model = 'models/fmnist-resnet56', ...specs] = process.argv.slice(2);
const desc = describeModel(await readRunnableConfig(model));
const mac = desc.units.map((u) => u.macs);
const head = desc.macs - mac.reduce((a, b) => a + b, 0);
const prot = desc.units.filter((u) => u.protected).map((u) => u.index);
const G = 1e9;
for (const spec of specs.length > 0 ? specs : ['2:17:5', '17:22:3', '22:26:2']) {
  const [a, b, keep] = spec.split(':').map(Number);
  const units = Array.from({ length: b - a }, (_, i) => a + i);
  let before = 0;
  for (let u = 0; u < a; u++) before += mac[u];
  let after = head;
  for (let u = b; u < mac.length; u++) after += mac[u];
  let plain = 0;
  let shared = before;
  let backward = 0;
  let count = 0;
  let path: number[] = [];
  for (const set of keepSets(units, prot, keep)) {
    const kept = set.filter((u) => u >= a && u < b);
    const net = before + kept.reduce((x, u) => x + mac[u], 0) + after;
    plain += net;
    backward += 2 * net;
    let c = 0;
    while (c < path.length && c < kept.length && path[c] === kept[c]) c++;
    for (let i = c; i < kept.length; i++) shared += mac[kept[i]];
    shared += after;
    path = kept;
    count++;
  }
  const round = (x: number) => Math.round(x * 1000) / 1000;
  console.log(
    JSON.stringify({
      segment: [a, b],
      keep,
      candidates: count,
      gmacsPerBatch: {
        plainForward: round(plain / G),
        sharedForward: round(shared / G),
        backward: round(backward / G),
      },
      forwardSaved: round(1 - shared / plain),
      totalSaved: round(1 - (shared + backward) / (plain + backward)),
    }),
  );
}
