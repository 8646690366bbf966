import type { Gpu } from '../gpu/device.js';
import { ShapeError } from '../gpu/errors.js';
import type { Tensor } from '../gpu/tensor.js';
import { optimStep } from '../ops/elementwise/optim.js';
import { sameShape } from '../ops/util.js';

export interface SgdOptions {
  momentum: number;
  weightDecay: number;
}

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export type OptimizerOptions = ({ kind: 'sgd' } & SgdOptions) | ({ kind: 'adamw' } & AdamWOptions);

/** PyTorch's defaults for the fine-tuning protocol of docs/method.md §5 (SGD) and for LMs (AdamW). */
export const SGD_DEFAULTS: SgdOptions = { momentum: 0.9, weightDecay: 5e-3 };
export const ADAMW_DEFAULTS: AdamWOptions = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

/**
 * SGD with momentum or AdamW, updating parameters in place on the GPU with PyTorch's update rules. The
 * state (momentum buffer; AdamW's second moment) lives beside each parameter and starts at zero.
 */
export class Optimizer {
  private readonly buffers = new Map<Tensor, Tensor[]>();
  private steps = 0;

  constructor(
    private readonly gpu: Gpu,
    readonly options: OptimizerOptions,
  ) {}

  get stepCount(): number {
    return this.steps;
  }

  /** One step at learning rate `lr` for every (parameter, gradient) pair. */
  step(params: readonly Tensor[], grads: readonly Tensor[], lr: number): void {
    if (params.length !== grads.length) {
      throw new ShapeError('optimizer', `${params.length} parameters but ${grads.length} gradients`);
    }
    this.steps++;
    const o = this.options;
    const adamw = o.kind === 'adamw';
    const c1 = adamw ? 1 - o.beta1 ** this.steps : 1;
    const c2 = adamw ? 1 - o.beta2 ** this.steps : 1;
    params.forEach((p, i) => {
      const g = grads[i];
      if (!sameShape(p.shape, g.shape) || p.dtype !== 'f32' || g.dtype !== 'f32') {
        throw new ShapeError(
          'optimizer',
          `parameter ${i} is ${p.dtype} [${p.shape.join(', ')}] but its gradient is ${g.dtype} [${g.shape.join(', ')}]`,
        );
      }
      const state = this.stateFor(p);
      optimStep(this.gpu, p, g, state, o.kind === 'adamw' ? { ...o, lr, c1, c2 } : { ...o, lr });
    });
  }

  /** A parameter's state (SGD: [momentum buffer]; AdamW: [m, v]), created at zero on first use. */
  stateFor(p: Tensor): readonly Tensor[] {
    let s = this.buffers.get(p);
    if (!s) {
      const count = this.options.kind === 'adamw' ? 2 : 1;
      s = Array.from({ length: count }, () => this.gpu.keep(this.gpu.zeros(p.shape)));
      this.buffers.set(p, s);
    }
    return s;
  }

  /** Restores a checkpoint: a parameter's state tensors (owned from now on) and the steps taken so far. */
  restore(p: Tensor, state: Tensor[], steps = this.steps): void {
    const count = this.options.kind === 'adamw' ? 2 : 1;
    if (state.length !== count || state.some((t) => t.size !== p.size)) {
      throw new ShapeError('optimizer', `restore needs ${count} state tensors of ${p.size} values`);
    }
    for (const t of this.buffers.get(p) ?? []) t.dispose();
    this.buffers.set(
      p,
      state.map((t) => this.gpu.keep(t)),
    );
    this.steps = steps;
  }

  /** Frees the optimiser state. */
  dispose(): void {
    for (const list of this.buffers.values()) for (const t of list) t.dispose();
    this.buffers.clear();
  }
}
