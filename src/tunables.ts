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

/** Readback staging: one long-lived MAP_READ buffer (docs/kernels.md, "Runtime hazards"). */
export const staging = {
  /** Largest single copy; larger reads are done in chunks of this size. */
  chunkBytes: 64 << 20,
};

/** Dispatch batching: dispatches recorded before a submit. */
export const batching = {
  maxDispatches: 128,
  /**
   * Record a run of dispatches into one compute pass instead of one pass each (bench/dispatch-overhead.ts
   * measures both; RESULTS.md "Dispatch overhead"). It saves JS time per dispatch; on lavapipe the step
   * totals went both ways within the noise, so CPU adapters keep a pass per dispatch. Profiling always
   * does (per-kernel timestamps).
   */
  sharedPass: { cpu: false, gpu: true },
  /** Per-dispatch uniform slots are 256-byte aligned; this many fit one arena. */
  uniformArenaBytes: 64 << 10,
};

/**
 * Waiting for the GPU in Node (src/node/wait.ts). dawn.node resolves WebGPU promises from a setImmediate
 * loop that spins a core while any promise is pending; on lavapipe that core is one of the two the kernels
 * run on. Past `spinMs` the waiter blocks between event-loop turns instead, each time for `fraction` of
 * the time waited so far and at most `sleepMs`: a 64-channel 8x8 conv (batch 64) went from 13.8 to
 * 6.8-7.3 ms. Fixed 0.5 ms sleeps cost a conv + sync of ~0.5 ms twice that (0.99 against 0.51 spinning);
 * fraction 0.25 gave 0.57 there and 0.24 against 0.25 ms on a tiny one (0.125 and 0.5 were no better).
 */
export const nodeWait = { spinMs: 0.1, sleepMs: 0.5, fraction: 0.25 };

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

/**
 * Workgroup-memory tiled GEMM for discrete GPUs (shaders/gemm-tiled.wgsl): WGX x WGY invocations, each with
 * TM x TN outputs in registers, K staged BK at a time. `large` (128 x 128 tiles, 8 x 8 per invocation) is
 * the usual register-blocked shape for NVIDIA-class GPUs; `small` (64 x 64, 4 x 4) keeps enough workgroups
 * in flight when C has few 128 x 128 tiles. Not yet tuned on a GPU (bench/RESULTS.md): the GPU job
 * measures both, and `plain` is kept for shapes too small to fill a tile (decode-like M).
 */
export const gemmTiled = {
  large: { wgx: 16, wgy: 16, tm: 8, tn: 8, bk: 16 },
  small: { wgx: 16, wgy: 16, tm: 4, tn: 4, bk: 16 },
  /** Large tiles only when C has at least this many of them (else small ones fill the GPU better). */
  largeMinTiles: 128,
  /** Below this many rows or columns of C the plain kernel (skinny / tiny tiles) is used. */
  minRows: 32,
  minCols: 32,
};

// ---- CNN kernels (conv2d, batch norm, pooling, cross-entropy) -------------------------------------

/**
 * Implicit-GEMM convolution tiles: an invocation owns TM output channels x OWT consecutive outputs of one
 * row and reuses each loaded input row window for every kernel column and channel.
 * Lavapipe (measured, 64x16x32x32 3x3): every storage read costs ~25 cycles per 8-lane vector whether its
 * address is lane-uniform or not, and a vec4 read costs four; subgroupShuffle is nearly free. So weights
 * are loaded once per 8 channels and shuffled (3 -> 16 GFLOP/s), and tiles are as large as NIR still
 * fully unrolls: TM x OWT = 128 with vec4 accumulators and vec4 stores; 16 x 8 measured best (18-22
 * GFLOP/s on the three CIFAR ResNet stages), 32 x 4, 16 x 12 and 16 x 16 fall off the cliff: the loops
 * stay rolled, the register arrays go to memory and the kernel runs ~10x slower.
 */
export const conv2d = {
  cpu: { lanes: 8, tm: 16, owt: 8 },
  gpu: { lanes: 64, tm: 8, owt: 4 },
};

/**
 * The halo-sharing 3x3 kernel (src/ops/conv/conv2d-halo-wgsl.ts), on adapters whose subgroups are exactly 8
 * lanes: the first OHT and OWT in these lists that fit the image. Lavapipe, 64 images, bias + ReLU, same
 * process, best of 8 (GFLOP/s at 16/32/64 channels on 32/16/8 pixels): TM 16 x OHT 4 x OWT 8
 * 20.9/22.6/26.1, OHT 2 19.3/22.8/23.6, the general kernel 18.3/19.5/20.2; with the residual add the
 * general kernel drops to 12.6 at 32 pixels, this one to 19.5. OHT 4 costs ~7 s of LLVM compile per
 * specialisation (3.5 s for OHT 2), once per machine with Mesa's shader cache. TM 32 fell to 10 GFLOP/s
 * on 16 channels (half the lanes idle) and gained 7% on 32; OWT 4 lost 10-25%. These ran before the
 * sleeping waiter (nodeWait); after it OHT 4 still beat OHT 2 (36.5/42.9/45.7 against 34.8/38.7/41.5).
 */
export const conv2dHalo = {
  tm: 16,
  oht: [4, 2, 1],
  owt: [8, 4],
  /**
   * Smaller launches keep the general kernel: a fresh specialisation's 3.5-7 s of compile would cost
   * more than it saves (2^24 multiply-adds run in ~1.5 ms). A CIFAR ResNet layer at batch 64 is 2^27,
   * its 3-channel stem 2^24.7 (4.1 ms here against 5.0 on the general kernel).
   */
  minMacs: 2 ** 24,
};

/**
 * The whole-plane kernels (src/ops/conv/conv2d-plane-wgsl.ts): one invocation holds every output of a
 * small plane, on adapters whose subgroups are exactly 8 lanes. bench/RESULTS.md "Small planes" (`npm run
 * bench -- --only planes`): against the row-window kernel at batch 64, 7x7, 64 channels, forward 17.3 ->
 * 8.9 ms, dx 18.3 -> 10.2, dW 33.1 -> 15.0 (TM 8); the halo kernel stays first where its tiles fit (8x8:
 * 10.7 against 12.2). dW with TM 16 was 5-25% faster from 32 channels up, slower at 16: not yet a rule.
 * The limits keep the written-out code (TM x outputs accumulators, the input plane) compiling in seconds.
 */
export const conv2dPlane = {
  tm: 8,
  wgradTm: 8,
  maxOutputs: 64,
  maxInputs: 64,
  /** As conv2dHalo.minMacs: smaller launches do not pay for a specialisation's compile. */
  minMacs: 2 ** 24,
};

/**
 * Weight gradient: TM output channels x one (ci, kh) row per invocation, runs of PW output positions
 * (vec4 accumulators over four positions). TM 16 with PW 8 no longer unrolls on lavapipe (see above);
 * TM 16 with PW 4 does, and shares each input window between twice the channels. Lavapipe, batch 64,
 * best of 3 (GFLOP/s, TM 8 x PW 8 -> TM 16 x PW 4): 16 ch 28x28 10.8 -> 14.2 and 9.5 -> 12.8, 16 ch
 * 32x32 12.4 -> 12.8, 32 ch 14x14 8.5 -> 8.8, 64 ch 8x8 8.1 -> 9.6, 64 ch 7x7 6.6 -> 6.9 and 8.3 -> 7.5
 * (equal CPU time), stride 2 16 -> 32 ch 5.4 -> 8.4 and 32 -> 64 4.8 -> 7.1, 1x1 stride 2 2.1 -> 4.2,
 * torchvision's 7x7 stem 1.3 -> 2.0.
 */
export const conv2dWgrad = {
  cpu: { lanes: 8, tm: 16, pw: 4 },
  gpu: { lanes: 64, tm: 8, pw: 8 },
  /** Batch slices (folded in order afterwards) until this many workgroups keep the device busy. */
  busyWorkgroups: { cpu: 32, gpu: 512 },
};

/** Batch norm, pooling, cross-entropy and the other small CNN kernels. */
export const cnn = { workgroupSize: 64 };

// ---- CKA (src/ops/norm/centre.ts, src/ops/linalg/gram.ts, src/sglp/cka.ts) --------------------------------

export const cka = {
  /**
   * Centring kernels: column centring of the features (one invocation per column, or four adjacent
   * columns) and the Gram centring launches. They move n·p and n² elements, far below the Gram's 2n²p
   * FLOPs, so the workgroup size only has to be sane.
   */
  centre: { cpu: { workgroupSize: 8 }, gpu: { workgroupSize: 64 } },
  /**
   * Symmetric Gram (shaders/gram.wgsl) on CPU adapters whose subgroup size is `lanes`: tiles of 4 x lanes
   * rows and columns, only those on and above the diagonal (about half a GEMM's work). Below `minTiles`
   * triangular tiles (small n) the GEMM with split-K keeps more cores busy and is used instead.
   */
  gram: { lanes: 8, minTiles: 16 },
};

// ---- Transformer kernels (embedding, RMSNorm, RoPE, attention, SwiGLU, token cross-entropy) --------

/**
 * Row and elementwise kernels of the transformer ops. Row kernels (RMSNorm, cross-entropy statistics) run
 * one workgroup per row (or vocabulary chunk) with a tree in workgroup memory; on lavapipe 8 lanes (one
 * AVX2 vector) avoid barrier-heavy trees, GPUs want wide workgroups.
 */
export const llm = {
  elementWorkgroup: 64,
  rowWorkgroup: { cpu: 8, gpu: 128 },
  /** RMSNorm dweight: rows folded per partial sum (the partials are then summed by reduce). */
  dweightRows: 64,
  /** Cross-entropy: vocabulary columns one statistics workgroup folds (online max / sum of exp). */
  vocabChunk: { cpu: 8192, gpu: 4096 },
};

/**
 * Flash attention tiles. A workgroup is one subgroup of lanes exchanging rows by subgroupShuffle. Forward
 * and dq (shaders/attention.wgsl): `rows` x lanes query rows per workgroup against key blocks of 4 keys per
 * lane. dk / dv (attention-dkdv.wgsl): `keyRows` x lanes key rows per workgroup, each lane owning
 * `keyRows` of them. On lavapipe (8 lanes, T 512, D 64) rows 2 beat 1 and 4 (4 spills; 3 was ten times
 * slower), keyRows 2 beat 1 and 4; GPUs have 32-wide subgroups and want many workgroups.
 */
export const attention = {
  cpu: { rows: 2, keyRows: 2 },
  gpu: { rows: 1, keyRows: 1 },
  /** Lanes when the adapter has no fixed subgroup size (workgroup-memory exchanges instead of shuffles). */
  fallbackLanes: 16,
};

/**
 * Flash attention for discrete GPUs (shaders/flash-attention*.wgsl): `wg` invocations, score tiles of
 * 4 x 4 per invocation (so rows x keys = 16 wg), output tiles `ct` vec4 columns wide. Forward and dq: `bq`
 * query rows per workgroup against blocks of `bk` keys; dk / dv: `bkv` keys per workgroup against blocks of
 * `bq` query rows. Sized so head dim 128 fits 32 KiB of workgroup memory; not yet tuned on a GPU.
 */
export const flashAttention = {
  wg: 128,
  forward: { bq: 64, bk: 32 },
  dq: { bq: 64, bk: 32 },
  dkdv: { bkv: 64, bq: 32 },
  ct: 16,
};

// ---- Fine-tuning after pruning (docs/method.md §5) ------------------------------------------------------------

/** AdamW training of language models (`sglp train --arch llama`, src/cli/train-lm.ts): step settings. */
export const lmTraining = {
  lr: 3e-3,
  /** Windows per step. */
  batch: 8,
  /** Linear warmup steps, then cosine decay. */
  warmup: 20,
  /** AdamW's decoupled weight decay. */
  weightDecay: 0.01,
};

/**
 * AdamW fine-tuning of a pruned language model: the LM trainer's settings, so a pruned model is trained on
 * as its base was. Warmup is `warmup` steps, at most `warmupFraction` of the run (a short fine-tune has few
 * steps; the loop needs warmup < steps).
 */
export const lmFinetune = { ...lmTraining, warmupFraction: 0.1, seed: 0 };

// ---- Layer streaming (LLMs larger than device memory) ---------------------------------------------------

/**
 * Streamed perplexity (src/eval/perplexity-stream.ts) reads the checkpoint once per group of this many
 * windows: every window of a group holds its hidden state between layers, so this bounds that memory
 * (64 windows of 128 tokens at hidden 4096 is 128 MiB) against the number of checkpoint reads.
 */
export const streamEvalWindows = 64;
