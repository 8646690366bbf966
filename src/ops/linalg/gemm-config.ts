import { gemm as tun } from '../../tunables.js';

export interface GemmShape {
  m: number;
  n: number;
  k: number;
  batch: number;
}

export interface GemmTiles {
  /** Invocations per workgroup, along N. */
  lanes: number;
  /** Rows of C per invocation. */
  tm: number;
  /** vec4 column groups of C per invocation. */
  tn: number;
  /** K slices (1: no split-K). */
  splits: number;
  /** K per slice, a multiple of 4 so no 4-wide step straddles two slices. */
  kPerSplit: number;
  kind: 'large' | 'skinny' | 'tiny';
}

/**
 * Picks the tile configuration: a pure function of the shape and the kind of adapter, so it is tested on
 * its own. Few rows -> fewer rows per invocation (skinny, tiny); too few tiles to fill the device with a
 * long K -> split K into slices folded by a second pass.
 */
export function chooseGemmTiles(shape: GemmShape, isCpu: boolean): GemmTiles {
  const cfg = isCpu ? tun.cpu : tun.gpu;
  const kind = shape.m >= cfg.large.tm ? 'large' : shape.m >= cfg.skinny.tm ? 'skinny' : 'tiny';
  const { tm, tn } = cfg[kind];
  const tiles = Math.ceil(shape.m / tm) * Math.ceil(shape.n / (cfg.lanes * tn * 4)) * shape.batch;
  const busy = isCpu ? tun.busyWorkgroups.cpu : tun.busyWorkgroups.gpu;
  let splits = 1;
  if (tiles < busy && shape.k >= 2 * tun.minSplitK) {
    splits = Math.min(tun.maxSplits, Math.ceil(busy / tiles), Math.floor(shape.k / tun.minSplitK));
  }
  const kPerSplit = Math.ceil(shape.k / splits / 4) * 4;
  return { lanes: cfg.lanes, tm, tn, splits: Math.max(1, Math.ceil(shape.k / kPerSplit)), kPerSplit, kind };
}
