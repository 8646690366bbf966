// The LM head in vocabulary slices, for heads that do not fit one storage binding or the device-memory cap
// (vocab × hidden f32: 545 MB at Qwen2.5-0.5B, 1.05 GB at Llama-3.2-1B, over lavapipe's 128 MiB binding).
// The head weight is read from the checkpoint's bytes and uploaded `sliceRows` vocabulary rows at a time;
// every sum runs in the order headCrossEntropy (llama-head.ts) runs it on the whole head, so the results are equal
// to it bit for bit when the slices align (sliceAlign: the cross-entropy's vocabulary chunk and the
// sum-of-squares reduction's chunk), and d hidden's GEMM does not split K:
//   statistics: per vocabulary slice and row slice, the logits' per-chunk max and sum of exp written into the
//     row slice's whole-vocabulary partials (token-ce.wgsl STATS at chunk0), folded in order into the
//     log-sum-exp by the finishing pass; the target logits come from a [rows, rows] GEMM against the
//     target rows of the head (the diagonal is the same FMA chain as the logit);
//   gradient (train): the logits recomputed per slice, d logits = softmax − one-hot of the slice's columns,
//     d hidden accumulated slice after slice into one FMA chain per element (gemm `into`), the head
//     gradient's rows of the slice summed over row slices on the host (f32 adds, as the device's `add`).
// Tied models keep the head gradient's slices on the host until the embedding gradient is added
// (embeddingGradSquares); its squared norm is the whole tensor's reduction from per-chunk partials.

import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import type { TensorStore } from '../io/safetensors.js';
import { toFloat32 } from '../io/tensor-decode.js';
import { gemm } from '../ops/linalg/gemm.js';
import { chooseGemmTiles } from '../ops/linalg/gemm-config.js';
import {
  tokenCeFinish,
  tokenCeLoss,
  tokenCeStats,
  tokenCrossEntropyBackward,
  uploadTargets,
  vocabChunk,
} from '../ops/llm/token-cross-entropy.js';
import { reduce } from '../ops/reduce/reduce.js';
import { reduce as reduceTun } from '../tunables.js';

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** Slice widths (vocabulary rows) that keep every partial sum of the whole head's computation. */
export function sliceAlign(gpu: Gpu, hidden: number): number {
  const ce = vocabChunk(gpu);
  const c = gpu.adapter.isCpu ? reduceTun.cpu.chunk : reduceTun.gpu.chunk;
  const rows = c / gcd(hidden, c);
  return (ce / gcd(ce, rows)) * rows;
}

/**
 * Vocabulary rows per head slice, or undefined to use the head whole: sliced when its f32 weight exceeds
 * one storage binding or a quarter of the device-memory cap (weight, gradient and logits must fit beside
 * the layers' states), in aligned widths as large as that allows. `force` (tests, benchmarks) slices at
 * that width, aligned or not.
 */
export function headSliceRows(gpu: Gpu, vocab: number, hidden: number, force?: number): number | undefined {
  if (force !== undefined) {
    if (!Number.isInteger(force) || force < 1)
      throw new RangeError(`head slice rows must be ≥ 1, got ${force}`);
    return Math.min(force, vocab);
  }
  const cap = gpu.pool.memoryCap;
  const budget = Math.min(gpu.limits.maxStorageBufferBindingSize, cap === undefined ? Infinity : cap / 4);
  if (4 * vocab * hidden <= budget) return undefined;
  const align = sliceAlign(gpu, hidden);
  return Math.min(vocab, Math.max(align, Math.floor(budget / (4 * hidden) / align) * align));
}

/** The LM head weight's rows, decoded from the checkpoint's bytes on demand (never the whole f32 table). */
export class HeadRows {
  private constructor(
    private readonly raw: Uint8Array,
    private readonly dtype: ReturnType<TensorStore['info']>['dtype'],
    private readonly elementBytes: number,
    private readonly file: string,
    readonly key: string,
    readonly vocab: number,
    readonly hidden: number,
  ) {}

  static async open(store: TensorStore, key: string, vocab: number, hidden: number): Promise<HeadRows> {
    const info = store.info(key);
    if (info.shape.length !== 2 || info.shape[0] !== vocab || info.shape[1] !== hidden) {
      throw new Error(
        `${store.name}: "${key}" is [${info.shape.join(', ')}], expected [${vocab}, ${hidden}]`,
      );
    }
    const raw = await store.bytes(key);
    const elementBytes = raw.byteLength / (vocab * hidden);
    return new HeadRows(raw, info.dtype, elementBytes, store.name, key, vocab, hidden);
  }

  /** Rows [v0, v1) as f32 (checked finite, as ParamStore.load checks every value). */
  rows(v0: number, v1: number): Float32Array {
    const b = this.elementBytes * this.hidden;
    const out = toFloat32(this.raw.subarray(v0 * b, v1 * b), this.dtype, this.file, this.key);
    for (let i = 0; i < out.length; i++) {
      if (!Number.isFinite(out[i])) {
        throw new Error(
          `${this.file}: tensor "${this.key}" holds a non-finite value (${out[i]}) at element ${v0 * this.hidden + i}`,
        );
      }
    }
    return out;
  }

  /** The rows `ids` (negative: row 0) as one [ids.length, hidden] array. */
  gather(ids: ArrayLike<number>): Float32Array {
    const h = this.hidden;
    const out = new Float32Array(ids.length * h);
    for (let i = 0; i < ids.length; i++) {
      const id = Math.max(ids[i], 0);
      out.set(this.rows(id, id + 1), i * h);
    }
    return out;
  }
}

/** [v0, v1) of each slice of `vocab` rows, `width` at a time. */
export function slicesOf(vocab: number, width: number): [number, number][] {
  const out: [number, number][] = [];
  for (let v0 = 0; v0 < vocab; v0 += width) out.push([v0, Math.min(vocab, v0 + width)]);
  return out;
}

export interface SlicedHeadResult {
  /** NLL sum over the counted rows (row slices' f32 sums added in order, as headCrossEntropy). */
  readonly sum: number;
  /** d mean NLL / d hidden [N, hidden], with `train`. */
  readonly dHidden?: Tensor;
  /** The head weight's gradient, slice by slice [rows of the slice × hidden], on the host, with `train`. */
  readonly headGrad?: Float32Array[];
}

/**
 * headCrossEntropy (llama-head.ts) with the head `W` read slice by slice: the loss sum of the normed last hidden
 * state `hidden` [N, h] against `target`, and with `train` d hidden and the head gradient (host slices).
 * `hidden` stays the caller's.
 */
export async function slicedHeadCrossEntropy(
  gpu: Gpu,
  hidden: Tensor,
  W: HeadRows,
  target: { ids: Int32Array; count: number },
  train: boolean,
  sliceRows: number,
  headRows?: number,
): Promise<SlicedHeadResult> {
  const [N, h] = hidden.shape;
  const vocab = W.vocab;
  const isCpu = gpu.adapter.isCpu;
  const rowsPer = Math.max(
    1,
    Math.min(N, headRows ?? Math.floor(gpu.limits.maxStorageBufferBindingSize / (4 * vocab))),
  );
  const slices = slicesOf(vocab, sliceRows);
  const ceChunk = vocabChunk(gpu);
  const chunk0: number[] = [];
  let stride = 0;
  for (const [v0, v1] of slices) {
    chunk0.push(stride);
    stride += Math.ceil((v1 - v0) / ceChunk);
  }
  // The tiles the whole head's GEMMs would use, so each element's sum has the same structure.
  const logitTiles = (r: number) => chooseGemmTiles({ m: r, n: vocab, k: h, batch: 1 }, isCpu);
  const dwTiles = (r: number) => chooseGemmTiles({ m: vocab, n: h, k: r, batch: 1 }, isCpu);
  const owned: Tensor[] = [];
  const own = <T extends Tensor>(t: T): T => {
    owned.push(gpu.keep(t));
    return t;
  };
  interface RowSlice {
    r0: number;
    r: number;
    x: Tensor;
    part: Tensor;
    targets: Tensor;
    lse: Tensor;
    loss: Tensor;
    dx?: Tensor;
  }
  try {
    const rs: RowSlice[] = [];
    for (let r0 = 0; r0 < N; r0 += rowsPer) {
      const r = Math.min(rowsPer, N - r0);
      let x = hidden;
      if (r < N) {
        x = own(gpu.empty([r, h]));
        gpu.copy(hidden, x, r * h * 4, r0 * h * 4, 0);
      }
      const ids = target.ids.subarray(r0, r0 + r);
      rs.push({
        r0,
        r,
        x,
        part: own(gpu.empty([r, stride, 2], 'f32', 'LM head partials')),
        targets: own(uploadTargets(gpu, ids, vocab).targets),
        lse: own(gpu.empty([r])),
        loss: own(gpu.empty([3])),
      });
    }
    const upload = (v0: number, v1: number) => {
      const t = gpu.keep(gpu.empty([v1 - v0, h], 'f32', 'LM head slice (streamed)'));
      gpu.write(t, W.rows(v0, v1));
      return t;
    };
    // Statistics of every slice's logits.
    for (const [s, [v0, v1]] of slices.entries()) {
      const Ws = upload(v0, v1);
      try {
        for (const row of rs) {
          await gpu.scope(() => {
            const logits = gemm(gpu, row.x, Ws, { transB: true, outDType: 'f32', tiles: logitTiles(row.r) });
            tokenCeStats(gpu, logits, row.part, { chunk0: chunk0[s], stride });
          });
        }
      } finally {
        Ws.dispose();
      }
    }
    // Log-sum-exp, NLL and the loss per row slice; the target logits from the target rows of the head.
    let sum = 0;
    for (const row of rs) {
      const ids = target.ids.subarray(row.r0, row.r0 + row.r);
      sum += await gpu.scope(async () => {
        const Wt = gpu.tensor(W.gather(ids), [row.r, h]);
        const diag = gemm(gpu, row.x, Wt, { transB: true, outDType: 'f32', tiles: logitTiles(row.r) });
        const onDiag = Int32Array.from(ids, (t, i) => (t >= 0 ? i : -100));
        const nll = gpu.empty([row.r]);
        tokenCeFinish(
          gpu,
          diag,
          row.part,
          gpu.tensor(onDiag, [row.r], 'i32'),
          { lse: row.lse, nll },
          {
            chunks: stride,
            v0: 0,
          },
        );
        const loss = tokenCeLoss(gpu, nll, row.targets, vocab);
        gpu.copy(loss, row.loss, 12, 0, 0);
        return (await gpu.readF32(loss))[2];
      });
    }
    if (!train) return { sum };

    // Gradient: d logits per slice; d hidden as one chain over the slices; the head gradient's rows.
    for (const row of rs) row.dx = own(gpu.zeros([row.r, h]));
    const headGrad: Float32Array[] = [];
    for (const [v0, v1] of slices) {
      const Ws = upload(v0, v1);
      let g: Float32Array | undefined;
      try {
        for (const row of rs) {
          const dw = await gpu.scope(async () => {
            const logits = gemm(gpu, row.x, Ws, { transB: true, outDType: 'f32', tiles: logitTiles(row.r) });
            const dl = tokenCrossEntropyBackward(
              gpu,
              logits,
              row.targets,
              { lse: row.lse, loss: row.loss },
              { inPlace: true, scale: 1 / target.count, slice: { v0, total: vocab } },
            );
            gemm(gpu, dl, Ws, { into: row.dx as Tensor });
            return gpu.readF32(gemm(gpu, dl, row.x, { transA: true, tiles: dwTiles(row.r) }));
          });
          if (!g) g = dw;
          else for (let i = 0; i < g.length; i++) g[i] = Math.fround(g[i] + dw[i]);
        }
      } finally {
        Ws.dispose();
      }
      headGrad.push(g as Float32Array);
    }
    const dHidden = gpu.keep(gpu.empty([N, h]));
    for (const row of rs) gpu.copy(row.dx as Tensor, dHidden, row.r * h * 4, 0, row.r0 * h * 4);
    return { sum, dHidden, headGrad };
  } finally {
    for (const t of owned) t.dispose();
  }
}

/**
 * Σ x² of a tensor given as consecutive host slices, as the device's sum of squares (reduce 'sumsq') of the
 * whole tensor computes it: per-chunk partials, then their sum. Equal to it when every slice but the last
 * holds a multiple of the reduction's chunk (sliceAlign).
 */
export async function sumSquaresOfSlices(gpu: Gpu, slices: readonly Float32Array[]): Promise<number> {
  const c = gpu.adapter.isCpu ? reduceTun.cpu.chunk : reduceTun.gpu.chunk;
  const total = slices.reduce((n, s) => n + s.length, 0);
  if (total === 0) return 0;
  return gpu.scope(async () => {
    const parts = gpu.empty([Math.ceil(total / c)]);
    let at = 0;
    for (const s of slices) {
      await gpu.scope(async () => {
        const whole = Math.floor(s.length / c);
        if (whole > 0) {
          const t = gpu.tensor(s.subarray(0, whole * c), [whole, c]);
          gpu.copy(reduce(gpu, t, 'sumsq', -1), parts, whole * 4, 0, at * 4);
          at += whole;
        }
        if (s.length > whole * c) {
          const tail = gpu.tensor(s.subarray(whole * c), [s.length - whole * c]);
          gpu.copy(reduce(gpu, tail, 'sumsq', 0), parts, 4, 0, at * 4);
          at++;
        }
      });
    }
    return (await gpu.readF32(reduce(gpu, parts, 'sum', 0)))[0];
  });
}

/**
 * The embedding gradient's rows of every slice, added to `headGrad` (tied) or to zeros, on the host with the
 * device's order (embedding.wgsl: per row, positions ascending, then added to the row), from d x `dx`
 * [N, hidden] of the token ids `ids`; returns its sum of squares (sumSquaresOfSlices).
 */
export async function embeddingGradSquares(
  gpu: Gpu,
  dx: Float32Array,
  ids: ArrayLike<number>,
  hidden: number,
  vocab: number,
  sliceRows: number,
  headGrad: Float32Array[] | undefined,
): Promise<number> {
  const h = hidden;
  const order = Array.from({ length: ids.length }, (_, i) => i).sort((a, b) => ids[a] - ids[b] || a - b);
  const slices = slicesOf(vocab, sliceRows).map(([v0, v1], s) => {
    const g = headGrad ? headGrad[s] : new Float32Array((v1 - v0) * h);
    return { v0, v1, g };
  });
  const acc = new Float32Array(h);
  for (let k = 0; k < order.length; ) {
    const id = ids[order[k]];
    let end = k;
    acc.fill(0);
    while (end < order.length && ids[order[end]] === id) {
      const p = order[end] * h;
      for (let c = 0; c < h; c++) acc[c] = acc[c] + dx[p + c];
      end++;
    }
    const s = slices.find((x) => id >= x.v0 && id < x.v1);
    if (!s) throw new RangeError(`token id ${id} outside the vocabulary of ${vocab}`);
    const at = (id - s.v0) * h;
    for (let c = 0; c < h; c++) s.g[at + c] = s.g[at + c] + acc[c];
    k = end;
  }
  return sumSquaresOfSlices(
    gpu,
    slices.map((s) => s.g),
  );
}
