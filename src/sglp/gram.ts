// Gram matrices of wide features for CKA (docs/method.md §1). The features of one unit on one batch are X [n, p]
// (p = every axis after the first). Columns are centred first (X_c = HX, so K = X_c X_cᵀ = HXXᵀH): when
// features share a mean that is large next to their spread (ReLU outputs, un-normalised conv outputs),
// centring only the Gram would cancel the leading digits of every f32 entry; centring the columns first
// loses nothing. The Gram centring that follows (ops/norm/centre.ts, in cka.ts) then makes it exactly HKH of
// the computed K, or its U-centred form for the unbiased estimator (the unbiased HSIC is invariant to
// shifting the features, so centring X first changes nothing there either).

import type { Gpu } from '../gpu/device.js';
import { ShapeError } from '../gpu/errors.js';
import type { Tensor } from '../gpu/tensor.js';
import { type GramKernel, gram } from '../ops/linalg/gram.js';
import { centreColumns } from '../ops/norm/centre.js';
import { expectDType } from '../ops/util.js';

export type Estimator = 'biased' | 'unbiased';

export const ESTIMATORS: readonly Estimator[] = ['biased', 'unbiased'];

/** The smallest batch each estimator is defined for (n(n-3) > 0 for the unbiased one). */
export function minBatchSize(estimator: Estimator): number {
  return estimator === 'unbiased' ? 4 : 2;
}

/**
 * What the Frobenius product of two centred Grams is divided by to give HSIC: (n-1)^2 for the biased
 * estimator, n(n-3) for the unbiased one (Song et al. 2012, through U-centring).
 */
export function hsicDenominator(n: number, estimator: Estimator): number {
  return estimator === 'unbiased' ? n * (n - 3) : (n - 1) * (n - 1);
}

/** The columns of features [n, ...] as a 2-D view [n, p] (shares the buffer). */
export function asRows(op: string, x: Tensor, n?: number): Tensor {
  expectDType(op, x, 'f32');
  if (x.shape.length < 1 || (n !== undefined && x.shape[0] !== n)) {
    throw new ShapeError(op, `expected features [${n ?? 'n'}, ...], got [${x.shape.join(', ')}]`);
  }
  const rows = x.shape[0];
  const cols = x.shape.slice(1).reduce((a, b) => a * b, 1);
  if (rows === 0 || cols === 0) {
    throw new ShapeError(op, `features [${x.shape.join(', ')}] have no rows or no columns`);
  }
  return x.shape.length === 2 ? x : x.reshape([rows, cols]);
}

/**
 * K = X_c X_cᵀ [n, n] for features x [n, ...]: columns centred, then the symmetric Gram kernel or a GEMM
 * with transB (split-K takes over when n is small and p large); ops/linalg/gram.ts chooses. The caller may
 * dispose x as soon as this returns.
 */
export function featureGram(gpu: Gpu, x: Tensor, kernel?: GramKernel): Tensor {
  const rows = asRows('featureGram', x);
  const xc = centreColumns(gpu, rows);
  const k = gram(gpu, xc, { kernel });
  xc.dispose();
  return k;
}
