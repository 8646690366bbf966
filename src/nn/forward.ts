import type { Tensor } from '../gpu/tensor.js';

// What every runnable image model's forward and backward passes share (ResNet, VGG; LLaMA's capture).

/**
 * Receives unit `unit`'s representation (docs/method.md §1: the stem's raw conv output before BN/ReLU; a block's
 * output after the add and ReLU), [N, C, H, W]. The tensor belongs to the model: do not dispose it, and
 * copy it (or finish reading it: a returned promise is awaited before the forward pass goes on) if it is
 * needed afterwards; in eval mode the model frees it as soon as the forward pass is done with it.
 */
export type CaptureHook = (unit: number, representation: Tensor) => void | Promise<void>;

export interface ForwardOptions {
  /** 'train': batch statistics (and saved activations for backward); 'eval': running statistics. */
  readonly mode: 'train' | 'eval';
  readonly capture?: CaptureHook;
  /**
   * Train mode only: update the BN running statistics in place with momentum (default true). False
   * leaves them bit-identical (GradNorm scoring, docs/method.md §4).
   */
  readonly updateRunningStats?: boolean;
  /**
   * Train mode with updateRunningStats: the momentum of every BN's running-statistics update instead of
   * the layer's own (BN recalibration passes 1/k at batch k, a cumulative average).
   */
  readonly bnMomentum?: number;
  /**
   * Train mode, models with dropout (VGG's 'dropout-mlp' classifier): the u32 seed of the dropout masks
   * (default 0), so that a pass is reproducible. ResNets have no dropout.
   */
  readonly dropoutSeed?: number;
}

/** Gradients by state-dict key, for every weight and bias, in state_dict order. */
export type Gradients = Map<string, Tensor>;
