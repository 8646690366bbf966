// Seeded random weights for a LLaMA description and an in-memory F32 checkpoint of them, read back through
// the safetensors reader (tensors by offset): what the streamed-model tests stream from.

import type { ModelDescription } from '../../src/arch/types.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import { encodeSafetensors } from '../../src/io/safetensors-write.js';
import { bytesSource } from '../../src/io/source.js';
import { values } from './reference.js';

/**
 * Tensor i of the description from values(size, seed(i)): at scale 1 where `unitScale(key)` (the
 * embedding, and the head when a test wants it), 0.3 elsewhere; norm weights near 1 (1 + x / 2).
 */
export function llamaWeights(
  desc: ModelDescription,
  seed: (i: number) => number,
  unitScale: (key: string) => boolean,
): Record<string, Float32Array> {
  const w: Record<string, Float32Array> = {};
  desc.params.forEach((p, i) => {
    const v = values(
      p.shape.reduce((a, b) => a * b, 1),
      seed(i),
      unitScale(p.key) ? 1 : 0.3,
    );
    w[p.key] = p.key.endsWith('norm.weight') ? v.map((x) => 1 + x / 2) : v;
  });
  return w;
}

/** `w` as one F32 safetensors file in memory, opened; `drop` leaves one tensor out. */
export async function f32Checkpoint(
  desc: ModelDescription,
  w: Record<string, Float32Array>,
  name: string,
  drop?: string,
) {
  const enc = encodeSafetensors(
    Object.fromEntries(
      desc.params
        .filter((p) => p.key !== drop)
        .map((p) => [p.key, { dtype: 'F32' as const, shape: p.shape, data: w[p.key] }]),
    ),
  );
  const bytes = new Uint8Array(enc.byteLength);
  let o = 0;
  for await (const c of enc.chunks()) {
    bytes.set(c, o);
    o += c.byteLength;
  }
  return openSafetensors(bytesSource(bytes, name));
}
