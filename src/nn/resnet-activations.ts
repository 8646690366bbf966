import type { Conv2dSpec, MaxPool2dSpec } from '../arch/types.js';
import type { Tensor } from '../gpu/tensor.js';

// What a ResNet's train-mode forward pass keeps for its backward pass, and how it is freed.

/** What one conv → BN pair keeps for backward. */
export interface PairActivations {
  readonly input: Tensor;
  /** The conv output, the BN input. */
  readonly pre: Tensor;
  /** [2, C] batch mean and biased variance. */
  readonly stats: Tensor;
  /** The BN output (after the ReLU, and for a block's last pair after the add). */
  readonly out: Tensor;
}

export interface BlockActivations {
  readonly body: PairActivations[];
  /** Option B: the projection's pair (its `out` is the BN output, no ReLU). */
  readonly shortcut?: PairActivations;
}

/**
 * Saved activations of a train-mode forward pass (a plain object, so Gpu.scope keeps what a scope returns).
 * `backward` consumes it; call `dispose()` to drop it without a backward pass.
 */
export interface ResnetActivations {
  readonly kind: 'resnet-activations';
  readonly x: Tensor;
  readonly stem: PairActivations;
  /** torchvision: the stem's max pool output (the first block's input) and its argmax indices. */
  readonly stemPool?: { readonly out: Tensor; readonly indices: Tensor };
  readonly blocks: BlockActivations[];
  /** [N, C] pooled features, the linear layer's input. */
  readonly pooled: Tensor;
  /** Shape of the last feature map (what the global average pool read). */
  readonly featureShape: readonly number[];
  /** Tensors that backward and dispose() leave alone: activations shared with other passes. */
  readonly shared?: ReadonlySet<Tensor>;
  consumed: boolean;
  dispose(): void;
}

export interface ForwardResult {
  /** [N, numClasses]. */
  readonly logits: Tensor;
  /** Present in train mode. */
  readonly saved: ResnetActivations | undefined;
}

export function convOpts(conv: Conv2dSpec) {
  return { stride: conv.stride, padding: conv.padding };
}

export function poolOpts(pool: MaxPool2dSpec) {
  return { kernel: pool.kernel, stride: pool.stride, padding: pool.padding };
}

/** Adds a piece's gradients to `all` and hands the piece on. */
export function collect(all: Map<string, Tensor>, piece: Map<string, Tensor>): Map<string, Tensor> {
  for (const [k, g] of piece) all.set(k, g);
  return piece;
}

/** Frees what a pair kept except its input, which is another pair's output or the caller's x. */
function disposePair(p: PairActivations, shared?: ReadonlySet<Tensor>): void {
  for (const t of [p.pre, p.stats, p.out]) if (!shared?.has(t)) t.dispose();
}

/** Saved activations assembled from trainStem/trainBlock/trainHead pieces, for backward. */
export function resnetActivations(
  parts: Omit<ResnetActivations, 'kind' | 'consumed' | 'dispose'>,
): ResnetActivations {
  return {
    kind: 'resnet-activations',
    ...parts,
    consumed: false,
    dispose() {
      disposeActivations(this);
    },
  };
}

/** Frees everything a train-mode forward pass kept (never the caller's input). */
export function disposeActivations(a: ResnetActivations): void {
  if (a.consumed) return;
  a.consumed = true;
  disposePair(a.stem, a.shared);
  if (a.stemPool && !a.shared?.has(a.stemPool.out)) {
    a.stemPool.out.dispose();
    a.stemPool.indices.dispose();
  }
  for (const b of a.blocks) {
    for (const p of b.body) disposePair(p, a.shared);
    if (b.shortcut) disposePair(b.shortcut, a.shared);
  }
  a.pooled.dispose();
}
