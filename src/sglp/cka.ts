// Linear CKA between every pair of units (docs/method.md §1), batch by batch, on the GPU.
//
// Per batch of n rows, each unit's features X_i [n, p_i] become one centred Gram C_i (gram.ts: HKH for the
// biased estimator, the U-centred K for the unbiased one), written as row i of a stacked [L, n²] matrix G
// that stays on the GPU; the features are not kept. At the end of the batch one GEMM G Gᵀ gives every
// <C_i, C_j>_F, i.e. HSIC_ij times (n-1)^2 (biased) or n(n-3) (unbiased). Only this L x L matrix is read
// back; HSIC, the normalisation CKA_ij = HSIC_ij / sqrt(HSIC_ii HSIC_jj) and the average over batches are
// done in f64, and the averaged diagonal is set to exactly 1. When L·n²·4 bytes exceed the largest storage
// binding, G is split into row chunks and the product is done chunk pair by chunk pair.
//
// Precision: Grams and the products of Grams are accumulated in f32 (fixed orders, no atomics, so results
// are bit-for-bit repeatable on one device); CKA comes out within ~1e-6 of an f64 computation on the
// test shapes and ~6e-6 at n = 500, p = 12544 (test/sglp/cka.test.ts, test/sglp/cka-bench.test.ts).

import type { Gpu } from '../gpu/device.js';
import { bucketSize } from '../gpu/pool.js';
import { Tensor } from '../gpu/tensor.js';
import { add } from '../ops/elementwise/elementwise.js';
import { gemm } from '../ops/linalg/gemm.js';
import { centreGram } from '../ops/norm/centre.js';
import { asRows, ESTIMATORS, type Estimator, featureGram, hsicDenominator, minBatchSize } from './gram.js';

export type { Estimator } from './gram.js';

/** The report's `cka` block (DESIGN.md), with the unit names. */
export interface CkaResult {
  units: string[];
  /** L x L, averaged over batches, symmetric, diagonal exactly 1. */
  matrix: number[][];
  batches: number;
  estimator: Estimator;
  /** Rows of the first batch (the protocol's batch size; a shorter last batch is averaged like the rest). */
  batchSize: number;
}

/** One batch's matrices, in f64. */
export interface BatchCka {
  /** HSIC_ij (biased: ⟨HKH, HLH⟩ / (n-1)^2; unbiased: Song et al. 2012). */
  hsic: number[][];
  /** HSIC_ij / sqrt(HSIC_ii HSIC_jj), diagonal exactly 1. */
  cka: number[][];
}

export interface CkaOptions {
  /** Unit names, in unit order; errors name units by these. */
  units: readonly string[];
  estimator?: Estimator;
  /** Largest stacked-Gram chunk in bytes (default: the adapter's largest storage binding). For tests. */
  maxChunkBytes?: number;
}

/** CKA is undefined for a unit: its representation is constant on a batch, or not finite. */
export class CkaError extends Error {
  constructor(
    readonly unit: string,
    message: string,
  ) {
    super(message);
    this.name = 'CkaError';
  }
}

/**
 * CKA_ij = HSIC_ij / sqrt(HSIC_ii HSIC_jj) in f64, symmetric (the upper triangle is mirrored), diagonal
 * exactly 1. A unit whose self-HSIC is zero (constant representation) or not finite is a CkaError naming it.
 */
export function ckaFromHsic(
  hsic: readonly (readonly number[])[],
  units: readonly string[],
  where = '',
): number[][] {
  const L = units.length;
  if (hsic.length !== L || hsic.some((row) => row.length !== L)) {
    throw new Error(`ckaFromHsic: expected a ${L}x${L} HSIC matrix for ${L} units`);
  }
  const at = where ? ` ${where}` : '';
  for (let i = 0; i < L; i++) {
    const h = hsic[i][i];
    if (!Number.isFinite(h)) {
      throw new CkaError(
        units[i],
        `CKA: unit ${units[i]} has a non-finite self-HSIC (${h})${at}: its features contain NaN or Infinity, or overflow f32`,
      );
    }
    if (!(h > 0)) {
      throw new CkaError(
        units[i],
        `CKA: unit ${units[i]} has a constant representation${at} (zero HSIC with itself), so its CKA is undefined`,
      );
    }
  }
  const cka: number[][] = Array.from({ length: L }, () => new Array<number>(L).fill(1));
  for (let i = 0; i < L; i++) {
    for (let j = i + 1; j < L; j++) {
      const v = hsic[i][j] / Math.sqrt(hsic[i][i] * hsic[j][j]);
      if (!Number.isFinite(v)) {
        throw new CkaError(units[j], `CKA: units ${units[i]} and ${units[j]} have a non-finite HSIC${at}`);
      }
      cka[i][j] = v;
      cka[j][i] = v;
    }
  }
  return cka;
}

const EMPTY = 0;
const OPEN = 1;
const DONE = 2;

/**
 * Accumulates linear CKA over batches. Per batch: beginBatch(n), addUnit(i, features) for every unit
 * (or addColumns(i, block) several times for a representation too wide for one tensor), then
 * `await endBatch()`. result() gives the average so far. GPU memory held: L·n² floats (plus one n x n
 * Gram per unit that is still receiving column blocks). Tensors it holds are its own: gpu.scope does not
 * dispose them; call dispose() when done.
 */
export class CkaAccumulator {
  readonly units: readonly string[];
  readonly estimator: Estimator;
  private readonly maxChunkBytes: number;
  private chunks: Tensor[] = [];
  private rowsPerChunk = 0;
  private chunkN = 0;
  private n = 0;
  private state: Uint8Array;
  private open: (Tensor | undefined)[];
  private sum: Float64Array;
  private batches = 0;
  private batchSize = 0;
  private inBatch = false;

  constructor(
    private readonly gpu: Gpu,
    opts: CkaOptions,
  ) {
    const { units, estimator = 'biased' } = opts;
    if (!ESTIMATORS.includes(estimator)) {
      throw new Error(`CKA: unknown estimator '${estimator}' (expected ${ESTIMATORS.join(' or ')})`);
    }
    if (units.length === 0) throw new Error('CKA: no units');
    const seen = new Set<string>();
    for (const u of units) {
      if (seen.has(u)) throw new Error(`CKA: unit name ${u} appears twice`);
      seen.add(u);
    }
    this.units = [...units];
    this.estimator = estimator;
    this.maxChunkBytes = Math.min(
      opts.maxChunkBytes ?? Number.POSITIVE_INFINITY,
      gpu.limits.maxStorageBufferBindingSize,
      gpu.limits.maxBufferSize,
    );
    const L = units.length;
    this.state = new Uint8Array(L);
    this.open = new Array(L).fill(undefined);
    this.sum = new Float64Array(L * L);
  }

  /** Starts a batch of n rows (every unit's features must have n rows). */
  beginBatch(n: number): void {
    if (this.inBatch) throw new Error('CKA: beginBatch called before the previous batch ended');
    const min = minBatchSize(this.estimator);
    if (!Number.isInteger(n) || n < min) {
      throw new Error(`CKA: the ${this.estimator} estimator needs batches of at least ${min} rows, got ${n}`);
    }
    if (n !== this.chunkN) this.allocate(n);
    this.n = n;
    this.state.fill(EMPTY);
    this.inBatch = true;
  }

  /** Unit i's features on this batch, [n, ...] f32. The caller may dispose them as soon as this returns. */
  addUnit(i: number, features: Tensor): void {
    this.checkUnit(i, 'addUnit');
    if (this.state[i] !== EMPTY) {
      throw new Error(`CKA: unit ${this.units[i]} was already added to this batch`);
    }
    const k = featureGram(this.gpu, asRows(`CKA unit ${this.units[i]}`, features, this.n));
    this.store(i, k);
    k.dispose();
    this.state[i] = DONE;
  }

  /**
   * A block of columns of unit i's features on this batch, [n, ...] f32 (columns are independent: the
   * unit's Gram is the sum of its blocks' Grams). The unit is complete at endBatch().
   */
  addColumns(i: number, block: Tensor): void {
    this.checkUnit(i, 'addColumns');
    if (this.state[i] === DONE) throw new Error(`CKA: unit ${this.units[i]} was already added to this batch`);
    const k = featureGram(this.gpu, asRows(`CKA unit ${this.units[i]}`, block, this.n));
    const prev = this.open[i];
    if (!prev) {
      const own = this.owned([this.n, this.n], 'cka open gram');
      this.gpu.copy(k, own);
      this.open[i] = own;
    } else {
      const s = add(this.gpu, prev, k);
      this.gpu.copy(s, prev);
      s.dispose();
    }
    k.dispose();
    this.state[i] = OPEN;
  }

  /**
   * Finishes the batch: one GEMM of the stacked centred Grams with its transpose (per chunk pair when
   * chunked), read back, HSIC and CKA in f64, added to the running sum. Returns this batch's matrices.
   */
  async endBatch(): Promise<BatchCka> {
    if (!this.inBatch) throw new Error('CKA: endBatch called without beginBatch');
    const L = this.units.length;
    const missing = this.units.filter((_, i) => this.state[i] === EMPTY);
    if (missing.length > 0) {
      throw new Error(
        `CKA: batch ${this.batches + 1} is missing the features of unit(s) ${missing.join(', ')}`,
      );
    }
    for (let i = 0; i < L; i++) {
      const k = this.open[i];
      if (k) {
        this.store(i, k);
        k.dispose();
        this.open[i] = undefined;
      }
    }
    const gpu = this.gpu;
    const products: { a: number; b: number; t: Tensor }[] = [];
    for (let a = 0; a < this.chunks.length; a++) {
      for (let b = a; b < this.chunks.length; b++) {
        products.push({ a, b, t: gemm(gpu, this.chunks[a], this.chunks[b], { transB: true }) });
      }
    }
    const dot = new Float64Array(L * L);
    try {
      for (const { a, b, t } of products) {
        const data = await gpu.readF32(t);
        const [ra, rb] = t.shape;
        for (let x = 0; x < ra; x++) {
          for (let y = 0; y < rb; y++) {
            const i = a * this.rowsPerChunk + x;
            const j = b * this.rowsPerChunk + y;
            if (j >= i) dot[i * L + j] = data[x * rb + y];
          }
        }
      }
    } finally {
      for (const { t } of products) t.dispose();
    }
    this.inBatch = false;
    const denom = hsicDenominator(this.n, this.estimator);
    const hsic: number[][] = Array.from({ length: L }, () => new Array<number>(L));
    for (let i = 0; i < L; i++) {
      for (let j = i; j < L; j++) {
        const h = dot[i * L + j] / denom;
        hsic[i][j] = h;
        hsic[j][i] = h;
      }
    }
    const cka = ckaFromHsic(hsic, this.units, `on batch ${this.batches + 1} (${this.n} rows)`);
    for (let i = 0; i < L; i++) for (let j = 0; j < L; j++) this.sum[i * L + j] += cka[i][j];
    if (this.batches === 0) this.batchSize = this.n;
    this.batches++;
    return { hsic, cka };
  }

  /** The CKA matrix averaged (f64) over the batches so far, diagonal exactly 1. */
  result(): CkaResult {
    if (this.batches === 0) throw new Error('CKA: no batch has been completed');
    const L = this.units.length;
    const matrix = Array.from({ length: L }, (_, i) =>
      Array.from({ length: L }, (_, j) => (i === j ? 1 : this.sum[i * L + j] / this.batches)),
    );
    return {
      units: [...this.units],
      matrix,
      batches: this.batches,
      estimator: this.estimator,
      batchSize: this.batchSize,
    };
  }

  /** Releases the GPU memory (the running sum stays readable through result()). */
  dispose(): void {
    for (const c of this.chunks) c.dispose();
    for (const k of this.open) k?.dispose();
    this.chunks = [];
    this.open.fill(undefined);
    this.chunkN = 0;
    this.inBatch = false;
  }

  // ---- internals ------------------------------------------------------------------------------------

  private checkUnit(i: number, op: string): void {
    if (!this.inBatch) throw new Error(`CKA: ${op} called outside a batch (call beginBatch(n) first)`);
    if (!Number.isInteger(i) || i < 0 || i >= this.units.length) {
      throw new Error(`CKA: ${op}: unit index ${i} is out of range (0..${this.units.length - 1})`);
    }
  }

  /** Centres unit i's Gram k into its row of the stacked matrix. */
  private store(i: number, k: Tensor): void {
    const nn = this.n * this.n;
    const chunk = this.chunks[Math.floor(i / this.rowsPerChunk)];
    centreGram(this.gpu, k, { mode: this.estimator, out: chunk, offset: (i % this.rowsPerChunk) * nn });
  }

  /** The stacked-Gram chunks for batches of n rows: as few as fit one storage binding each, balanced. */
  private allocate(n: number): void {
    for (const c of this.chunks) c.dispose();
    this.chunks = [];
    const L = this.units.length;
    const unitBytes = n * n * 4;
    let fit = Math.min(L, Math.floor(this.maxChunkBytes / unitBytes));
    while (fit > 0 && bucketSize(fit * unitBytes) > this.maxChunkBytes) fit--;
    if (fit < 1) {
      throw new Error(
        `CKA: one ${n}x${n} Gram (${unitBytes} bytes) exceeds the largest storage binding (${this.maxChunkBytes} bytes); use smaller batches`,
      );
    }
    const count = Math.ceil(L / fit);
    this.rowsPerChunk = Math.ceil(L / count);
    for (let c = 0; c < count; c++) {
      const rows = Math.min(this.rowsPerChunk, L - c * this.rowsPerChunk);
      this.chunks.push(this.owned([rows, n * n], 'cka stacked grams'));
    }
    this.chunkN = n;
  }

  /** A tensor that belongs to the accumulator: created outside any gpu.scope's reach. */
  private owned(shape: number[], label: string): Tensor {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    return new Tensor(this.gpu, shape, 'f32', this.gpu.pool.acquire(bytes, label));
  }
}
