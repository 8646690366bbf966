import embeddingWgsl from '../../../shaders/embedding.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { llm as tun } from '../../tunables.js';
import { expectDType, grid2d } from '../util.js';

/**
 * Token ids on the device, checked on the CPU at upload (integers in [0, vocab)), so the kernels index the
 * table without bounds checks of their own. With `index` (the default), also the CSR index the backward
 * uses: the distinct ids (`rows`), offsets `starts` [distinct + 1] and the token positions sorted by
 * (id, position) (`order`). Building it costs an O(N log N) sort of N positions on the CPU and two more
 * small uploads; pass index: false for inference.
 */
export interface TokenIds {
  readonly ids: Tensor;
  readonly vocab: number;
  readonly shape: readonly number[];
  readonly index?: { rows: Tensor; starts: Tensor; order: Tensor; distinct: number };
  dispose(): void;
}

/** Validates and uploads token ids (any array of integers) of the given shape for a table of `vocab` rows. */
export function uploadTokens(
  gpu: Gpu,
  ids: ArrayLike<number>,
  shape: readonly number[],
  vocab: number,
  opts: { index?: boolean } = {},
): TokenIds {
  const n = shape.reduce((a, b) => a * b, 1);
  if (ids.length !== n) {
    throw new ShapeError('uploadTokens', `${ids.length} ids for shape [${shape.join(', ')}] (${n} expected)`);
  }
  if (!Number.isInteger(vocab) || vocab <= 0) throw new ShapeError('uploadTokens', `invalid vocab ${vocab}`);
  const u = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const v = ids[i];
    if (!Number.isInteger(v) || v < 0 || v >= vocab) {
      throw new ShapeError('uploadTokens', `token ${i} has id ${v}, expected an integer in [0, ${vocab})`);
    }
    u[i] = v;
  }
  const tensor = gpu.tensor(u, shape, 'u32');
  let index: TokenIds['index'];
  if (opts.index ?? true) {
    const order = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => u[a] - u[b] || a - b);
    const rows: number[] = [];
    const starts: number[] = [];
    for (let k = 0; k < n; k++) {
      if (k === 0 || u[order[k]] !== u[order[k - 1]]) {
        rows.push(u[order[k]]);
        starts.push(k);
      }
    }
    starts.push(n);
    index = {
      rows: gpu.tensor(rows.length ? rows : [0], [Math.max(1, rows.length)], 'u32'),
      starts: gpu.tensor(starts, [starts.length], 'u32'),
      order: gpu.tensor(n ? order : [0], [Math.max(1, n)], 'u32'),
      distinct: rows.length,
    };
  }
  return {
    ids: tensor,
    vocab,
    shape: [...shape],
    index,
    dispose() {
      tensor.dispose();
      index?.rows.dispose();
      index?.starts.dispose();
      index?.order.dispose();
    },
  };
}

const params = uniforms({
  /** Forward: tokens; backward: distinct rows. */
  count: 'u32',
  hidden: 'u32',
  /** Workgroups along x (the grid is folded into 2-D). */
  gridX: 'u32',
});

function checkTable(op: string, table: Tensor, tokens: TokenIds, half = false): number {
  if (half && table.dtype === 'f16') {
    if (!table.gpu.hasF16) {
      throw new ShapeError(op, 'an f16 table needs the adapter feature shader-f16, which it lacks');
    }
  } else expectDType(op, table, 'f32');
  if (table.shape.length !== 2 || table.shape[0] !== tokens.vocab) {
    throw new ShapeError(
      op,
      `table must be [${tokens.vocab}, hidden] (the ids' vocabulary), got [${table.shape.join(', ')}]`,
    );
  }
  return table.shape[1];
}

/** out[..., :] = table[ids[...], :]: [...ids shape, hidden], f32 (an f16 table is widened). */
export function embedding(gpu: Gpu, table: Tensor, tokens: TokenIds): Tensor {
  const hidden = checkTable('embedding', table, tokens, true);
  const out = gpu.empty([...tokens.shape, hidden]);
  if (out.size === 0) return out;
  const wg = tun.elementWorkgroup;
  const [gx, gy] = grid2d(Math.ceil(out.size / wg));
  gpu.dispatch({
    kernel: {
      name: 'embedding',
      template: embeddingWgsl,
      defines: {
        WG: wg,
        BACKWARD: false,
        ACCUMULATE: false,
        F16: table.dtype === 'f16',
        ELEM: table.dtype,
      },
      params,
    },
    buffers: [table, tokens.ids, out],
    uniforms: { count: tokens.ids.size, hidden, gridX: gx },
    workgroups: [gx, gy],
  });
  return out;
}

/**
 * Gradient of the embedding table: dW[v, :] = sum of dOut[t, :] over the tokens t with id v, in position
 * order (deterministic, no atomics). Cost: one read of dOut (N x hidden) and one write per used row; the
 * vocab x hidden result is cleared first (a buffer clear, ~the table's size in bandwidth) unless `into`
 * is given, whose used rows are added to in place (tied embeddings, gradient accumulation).
 */
export function embeddingBackward(
  gpu: Gpu,
  dOut: Tensor,
  tokens: TokenIds,
  opts: { into?: Tensor } = {},
): Tensor {
  expectDType('embeddingBackward', dOut, 'f32');
  const index = tokens.index;
  if (!index) throw new ShapeError('embeddingBackward', 'the token ids were uploaded with index: false');
  const hidden = opts.into ? checkTable('embeddingBackward', opts.into, tokens) : (dOut.shape.at(-1) ?? 0);
  if (dOut.size !== tokens.ids.size * hidden || dOut.shape.at(-1) !== hidden) {
    throw new ShapeError(
      'embeddingBackward',
      `dOut must be [${[...tokens.shape, hidden].join(', ')}], got [${dOut.shape.join(', ')}]`,
    );
  }
  const dW = opts.into ?? gpu.zeros([tokens.vocab, hidden]);
  if (index.distinct === 0 || hidden === 0) return dW;
  const wg = tun.elementWorkgroup;
  const [gx, gy] = grid2d(Math.ceil((index.distinct * hidden) / wg));
  gpu.dispatch({
    kernel: {
      name: 'embedding.backward',
      template: embeddingWgsl,
      defines: { WG: wg, BACKWARD: true, ACCUMULATE: !!opts.into, F16: false, ELEM: 'f32' },
      params,
    },
    buffers: [dOut, index.rows, index.starts, index.order, dW],
    uniforms: { count: index.distinct, hidden, gridX: gx },
    workgroups: [gx, gy],
  });
  return dW;
}
