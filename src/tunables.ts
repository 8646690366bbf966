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
/**
 * Reductions: workgroup size and the elements of the reduced axis one workgroup folds per pass. On lavapipe
 * one 8-lane workgroup streaming 64K elements with no barrier-heavy tree until the end matched buffer-copy
 * bandwidth (64 lanes x 4K reached half of it); GPUs want many wide workgroups.
 */
export const reduce = {
  cpu: { workgroupSize: 8, chunk: 65536 },
  gpu: { workgroupSize: 256, chunk: 8192 },
  /** Rows folded sequentially per invocation when reducing a strided (inner > 1) axis of a small tensor. */
  columnChunk: 256,
};
export const softmax = { workgroupSize: 64 };
export const transpose = { workgroupSize: 64 };

/**
 * GEMM tiles. Lavapipe runs 8 invocations as one AVX2 vector and turns every storage read into per-lane
 * scalar loads, so what counts is FMAs per loaded element: a workgroup of 8 lanes along N, each lane holding
 * TM rows x TN vec4 columns in registers, with A's rows shared by subgroupShuffle when TM is a multiple of
 * the lanes (shaders/gemm.wgsl). TM 32 beat 8, 16 and 24 at 1024^3; TN 2 lost to spills. Real GPUs want
 * wider workgroups.
 */
export const gemm = {
  cpu: { lanes: 8, large: { tm: 32, tn: 1 }, skinny: { tm: 8, tn: 1 }, tiny: { tm: 1, tn: 1 } },
  gpu: { lanes: 64, large: { tm: 8, tn: 1 }, skinny: { tm: 4, tn: 1 }, tiny: { tm: 1, tn: 1 } },
  /** Workgroups that keep the device busy; fewer tiles than this and K-heavy shapes split K. */
  busyWorkgroups: { cpu: 16, gpu: 512 },
  /** Each split-K slice keeps at least this much of K. */
  minSplitK: 256,
  maxSplits: 32,
};

// ---- CNN kernels (conv2d, batch norm, pooling, cross-entropy) -------------------------------------

/**
 * Implicit-GEMM convolution tiles: an invocation owns TM output channels x OWT consecutive outputs of one
 * row and reuses each loaded input row window for every kernel column and channel.
 */
export const conv2d = {
  cpu: { lanes: 8, tm: 8, owt: 8 },
  gpu: { lanes: 64, tm: 8, owt: 4 },
};

/** Weight gradient: TM output channels x one (ci, kh) row per invocation, runs of PW output positions. */
export const conv2dWgrad = {
  cpu: { lanes: 8, tm: 8, pw: 8 },
  gpu: { lanes: 64, tm: 8, pw: 8 },
  /** Batch slices (folded in order afterwards) until this many workgroups keep the device busy. */
  busyWorkgroups: { cpu: 32, gpu: 512 },
};

/** Batch norm, pooling, cross-entropy and the other small CNN kernels. */
export const cnn = { workgroupSize: 64 };
