// A small seeded PRNG (mulberry32) for shuffling and augmentation: the same seed gives the same stream on
// every platform, which Math.random cannot promise. Streams for different purposes (shuffle vs. crop) and
// epochs are derived by hashing, so changing one never shifts the other.

/** murmur3's 32-bit finaliser: spreads every input bit over the output. */
function fmix32(h: number): number {
  let x = h >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** One 32-bit seed from a user seed (any safe integer) and stream numbers. */
export function deriveSeed(seed: number, ...stream: number[]): number {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  let h = fmix32(Math.floor(seed / 2 ** 32)) ^ fmix32((seed >>> 0) + 0x9e3779b9);
  for (const s of stream) h = fmix32(h ^ fmix32((s >>> 0) + 0x7f4a7c15));
  return h >>> 0;
}

export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A generator for `stream` of `seed`, e.g. Rng.derive(seed, epoch, SHUFFLE). */
  static derive(seed: number, ...stream: number[]): Rng {
    return new Rng(deriveSeed(seed, ...stream));
  }

  /** The next 32 random bits. */
  uint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.uint32() / 2 ** 32;
  }

  /** Uniform integer in [0, n), n <= 2^32, without modulo bias. */
  int(n: number): number {
    const limit = 2 ** 32 - (2 ** 32 % n);
    let x = this.uint32();
    while (x >= limit) x = this.uint32();
    return x % n;
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}
