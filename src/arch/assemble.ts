// Pieces every architecture builder shares: a unit record from the tally of its layers, and the model's
// totals from the tallies of all its layer groups in forward order.

import { countParams, type Tally } from './layers.js';
import type { ParamSpec, Shape3, UnitSpec } from './types.js';

export interface Totals {
  readonly params: ParamSpec[];
  readonly ignoredKeys: string[];
  readonly paramCount: number;
  readonly macs: number;
}

/** `reason` set means protected (docs/method.md §0): removing the unit would change tensor shapes. */
export function unit(
  index: number,
  name: string,
  kind: UnitSpec['kind'],
  stage: number,
  input: Shape3,
  output: Shape3,
  tally: Tally,
  protection: { readonly reason: string | undefined },
): UnitSpec {
  const { reason } = protection;
  return {
    index,
    name,
    kind,
    stage,
    protected: reason !== undefined,
    ...(reason === undefined ? {} : { protectedReason: reason }),
    input,
    output,
    params: tally.paramCount,
    macs: tally.macs,
    keys: tally.keys,
    ignoredKeys: [...tally.ignoredKeys],
  };
}

/** Tallies in forward order give the state dict in PyTorch's registration order. */
export function totals(groups: readonly Tally[]): Totals {
  const params = groups.flatMap((g) => g.params);
  return {
    params,
    ignoredKeys: groups.flatMap((g) => g.ignoredKeys),
    paramCount: countParams(params),
    macs: groups.reduce((n, g) => n + g.macs, 0),
  };
}
