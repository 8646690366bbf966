// Every performance knob in one place. Values were picked by measurement on lavapipe (bench/RESULTS.md);
// change them only with a benchmark run next to the change.

/** Buffer pool: sizes are rounded up to these steps so freed buffers are found again. */
export const pool = {
  /** Smallest bucket in bytes. */
  minBytes: 256,
  /** Bucket steps per power of two (2 gives 1x, 1.5x, 2x, ...): trades memory for hit rate. */
  stepsPerOctave: 2,
  /** Free bytes kept for reuse before buffers are destroyed. */
  maxFreeBytes: 512 << 20,
};

/** Readback staging: one long-lived MAP_READ buffer (see DESIGN.md "Known hazards"). */
export const staging = {
  /** Largest single copy; larger reads are done in chunks of this size. */
  chunkBytes: 64 << 20,
};

/** Dispatch batching: dispatches recorded before a submit. */
export const batching = {
  maxDispatches: 128,
  /** Per-dispatch uniform slots are 256-byte aligned; this many fit one arena. */
  uniformArenaBytes: 64 << 10,
};

/** Elementwise and reduction kernels. */
export const elementwise = { workgroupSize: 64, maxRank: 6 };
export const reduce = {
  workgroupSize: 64,
  /** Elements of the reduced axis one workgroup folds in the first pass. */
  chunk: 4096,
};
export const softmax = { workgroupSize: 64 };
export const transpose = { workgroupSize: 64 };

/**
 * GEMM tiles. Lavapipe runs 8 invocations as one AVX2 vector: a workgroup of 8 lanes along N, each lane
 * holding TM rows x TN vec4 columns in registers, beat shared-memory tiling there (no barriers, and loads
 * through the per-lane path cost the same either way). Real GPUs want wider workgroups.
 */
export const gemm = {
  cpu: { lanes: 8, large: { tm: 8, tn: 1 }, skinny: { tm: 4, tn: 1 }, tiny: { tm: 1, tn: 1 } },
  gpu: { lanes: 64, large: { tm: 8, tn: 1 }, skinny: { tm: 4, tn: 1 }, tiny: { tm: 1, tn: 1 } },
  /** Workgroups that keep the device busy; fewer tiles than this and K-heavy shapes split K. */
  busyWorkgroups: { cpu: 16, gpu: 512 },
  /** Each split-K slice keeps at least this much of K. */
  minSplitK: 256,
  maxSplits: 32,
};
