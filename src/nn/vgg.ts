// CIFAR VGG-BN (`architecture: 'vgg'`) with explicit forward and backward, llm.c style: `features` runs
// conv → BN → ReLU per conv entry (ReLU fused into the BN kernel) and 2x2 max pools, then the map is
// flattened C·H·W (NCHW, as PyTorch's x.view(n, -1)) into the classifier (linear, ReLU, dropout). A unit's
// representation is its conv output before BN (docs/method.md §1). A pruned description simply has fewer convs.
// Dropout is the identity in eval mode and PyTorch's inverted dropout in train mode, its mask a hash of
// (ForwardOptions.dropoutSeed, classifier position, element), recomputed by backward.

import type { ConvBn, MaxPool2dSpec, ModelDescription, VggFeature, VggNet } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import {
  batchNorm2dBackward,
  conv2d,
  conv2dBackward,
  dropout,
  dropoutBackward,
  linear,
  linearBackward,
  maxPool2d,
  maxPool2dBackward,
  relu,
  reluBackward,
} from '../ops/index.js';
import { bnForward, type FoldedConv, FoldedSnapshot, runningUpdate, type StatsUpdate } from './conv-bn.js';
import type { CaptureHook, ForwardOptions, Gradients } from './forward.js';
import { inTrainableOrder, type ParamStore } from './params.js';

/** What one features entry keeps for backward; `out` is the next entry's input. */
type FeatureActivations =
  | {
      readonly kind: 'conv';
      readonly input: Tensor;
      /** The conv output (the unit's representation), the BN input. */
      readonly pre: Tensor;
      /** [2, C] batch mean and biased variance. */
      readonly stats: Tensor;
      /** The BN output after the ReLU. */
      readonly out: Tensor;
    }
  | {
      readonly kind: 'pool';
      readonly inputShape: readonly number[];
      readonly indices: Tensor;
      readonly out: Tensor;
    };

/**
 * Saved activations of a train-mode forward pass (a plain object, so Gpu.scope keeps what a scope returns).
 * `backward` consumes it; call `dispose()` to drop it without a backward pass.
 */
export interface VggActivations {
  readonly kind: 'vgg-activations';
  readonly x: Tensor;
  readonly features: FeatureActivations[];
  /** Input of each classifier layer: [0] is a flattened view of the last feature map, the rest are owned. */
  readonly classifierInputs: Tensor[];
  readonly dropoutSeed: number;
  consumed: boolean;
  dispose(): void;
}

export interface VggForwardResult {
  /** [N, numClasses]. */
  readonly logits: Tensor;
  /** Present in train mode. */
  readonly saved: VggActivations | undefined;
}

function convOpts(spec: ConvBn) {
  return { stride: spec.conv.stride, padding: spec.conv.padding };
}

function poolOpts(pool: MaxPool2dSpec) {
  return { kernel: pool.kernel, stride: pool.stride, padding: pool.padding };
}

export class Vgg {
  readonly net: VggNet;
  private readonly folded: FoldedSnapshot;

  constructor(
    readonly gpu: Gpu,
    readonly desc: ModelDescription,
    readonly params: ParamStore,
  ) {
    if (desc.architecture !== 'vgg') {
      throw new Error(`Vgg runs architecture 'vgg', got '${desc.architecture}' (${desc.name})`);
    }
    if (params.desc !== desc && params.keys().join('\n') !== desc.params.map((p) => p.key).join('\n')) {
      throw new Error(
        `${desc.name}: the parameter store holds another model's tensors (${params.desc.name})`,
      );
    }
    this.net = desc.net;
    this.folded = new FoldedSnapshot(gpu, params);
  }

  /** Forward pass of x [N, C, H, W] (normalised images). x stays the caller's. */
  async forward(x: Tensor, options: ForwardOptions): Promise<VggForwardResult> {
    const [c, h, w] = this.desc.input;
    if (x.shape.length !== 4 || x.shape[0] < 1 || x.shape[1] !== c || x.shape[2] !== h || x.shape[3] !== w) {
      throw new Error(
        `${this.desc.name}: input must be [N >= 1, ${c}, ${h}, ${w}], got [${x.shape.join(', ')}]`,
      );
    }
    const train = options.mode === 'train';
    const seed = options.dropoutSeed ?? 0;
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new Error(`${this.desc.name}: dropoutSeed must be an integer in [0, 2^32), got ${seed}`);
    }
    if (train) this.unfreeze();
    const folded = train ? undefined : this.folded.current();
    const update = runningUpdate(options);
    const scratch = new Map<number, Tensor>();
    const features: FeatureActivations[] = [];
    const classifierInputs: Tensor[] = [];
    // Eval mode frees each activation once the next one exists; train mode keeps them all.
    const done = (t: Tensor) => {
      if (!train && t !== x) t.dispose();
    };
    let hcur = x;
    try {
      for (const f of this.net.features) {
        const next =
          f.kind === 'pool'
            ? this.poolForward(f, hcur, train, features)
            : await this.convForward(
                f,
                hcur,
                { train, update, scratch, folded, capture: options.capture },
                features,
              );
        done(hcur);
        hcur = next;
      }
      const n = x.shape[0];
      const featureMap = hcur;
      let z = hcur.reshape([n, hcur.size / n]);
      for (const [i, layer] of this.net.classifier.entries()) {
        if (train) classifierInputs.push(z);
        let next: Tensor;
        if (layer.op === 'linear') {
          next = linear(
            this.gpu,
            z,
            this.params.get(`${layer.name}.weight`),
            layer.bias ? this.params.get(`${layer.name}.bias`) : undefined,
          );
        } else if (layer.op === 'relu') next = relu(this.gpu, z);
        else if (train) next = dropout(this.gpu, z, { p: layer.p, seed, stream: i });
        else continue;
        // The flattened view shares the feature map's buffer: free the map, never the view.
        done(z.ownsBuffer ? z : featureMap);
        z = next;
      }
      if (z.ownsBuffer === false) throw new Error(`${this.desc.name}: the classifier has no linear layer`);
      if (!train) return { logits: z, saved: undefined };
      // The logits are the caller's: classifierInputs holds only the layers' inputs.
      const saved: VggActivations = {
        kind: 'vgg-activations',
        x,
        features,
        classifierInputs,
        dropoutSeed: seed,
        consumed: false,
        dispose() {
          disposeActivations(this);
        },
      };
      return { logits: z, saved };
    } finally {
      for (const t of scratch.values()) t.dispose();
    }
  }

  /**
   * Snapshot the current parameters with every BN folded into its conv (computed in f64 on the CPU), so
   * that eval-mode passes run one fused conv + bias + ReLU per conv entry. A pass with a capture hook still
   * runs conv and BN apart (the representation is the raw conv output). Dropped by a train-mode pass, by
   * unfreeze(), or when ParamStore.write changes a value. Outputs differ from the unfolded path by f32
   * rounding only.
   */
  async freezeForEval(): Promise<void> {
    await this.folded.freeze(this.net.features.flatMap((f) => (f.kind === 'conv' ? [f] : [])));
  }

  /** Drops the folded snapshot (eval mode goes back to conv + BN). */
  unfreeze(): void {
    this.folded.drop();
  }

  get frozen(): boolean {
    return this.folded.frozen;
  }

  /**
   * Gradients of every weight and bias given dlogits (d loss / d logits, [N, numClasses]), from the saved
   * activations of a train-mode forward pass, which this consumes (frees). Deterministic. dlogits stays
   * the caller's.
   */
  backward(saved: VggActivations, dlogits: Tensor): Gradients {
    if (saved.kind !== 'vgg-activations') {
      throw new Error(`${this.desc.name}: backward needs the activations of a Vgg forward pass`);
    }
    if (saved.consumed) throw new Error(`${this.desc.name}: these activations were already used or disposed`);
    const gpu = this.gpu;
    const grads = new Map<string, Tensor>();
    let d = dlogits;
    const replace = (next: Tensor) => {
      if (d !== dlogits) d.dispose();
      d = next;
    };
    try {
      const layers = this.net.classifier;
      for (let i = layers.length - 1; i >= 0; i--) {
        const layer = layers[i];
        const input = saved.classifierInputs[i];
        if (layer.op === 'linear') {
          const g = linearBackward(gpu, input, this.params.get(`${layer.name}.weight`), d, {
            biasGrad: layer.bias,
          });
          grads.set(`${layer.name}.weight`, g.dw);
          if (g.db) grads.set(`${layer.name}.bias`, g.db);
          replace(g.dx as Tensor);
        } else if (layer.op === 'relu') replace(reluBackward(gpu, d, input));
        else replace(dropoutBackward(gpu, d, { p: layer.p, seed: saved.dropoutSeed, stream: i }));
      }
      const features = this.net.features;
      const firstConv = features.findIndex((f) => f.kind === 'conv');
      for (let i = features.length - 1; i >= 0; i--) {
        const f = features[i];
        const act = saved.features[i];
        if (f.kind === 'pool' && act.kind === 'pool') {
          const dshape = [d.shape[0], ...f.output];
          const dView = d.shape.length === 4 ? d : d.reshape(dshape);
          replace(maxPool2dBackward(gpu, dView, act.indices, act.inputShape, poolOpts(f.pool)));
          continue;
        }
        if (f.kind !== 'conv' || act.kind !== 'conv')
          throw new Error(`${this.desc.name}: activations out of step`);
        const dView = d.shape.length === 4 ? d : d.reshape(act.out.shape);
        const g = batchNorm2dBackward(
          gpu,
          dView,
          act.pre,
          this.params.get(`${f.bn.name}.weight`),
          act.stats,
          {
            eps: f.bn.eps,
            reluOutput: act.out,
          },
        );
        grads.set(`${f.bn.name}.weight`, g.dweight);
        grads.set(`${f.bn.name}.bias`, g.dbias);
        const c = conv2dBackward(gpu, act.input, this.params.get(`${f.conv.name}.weight`), g.dx, {
          ...convOpts(f),
          inputGrad: i > firstConv,
          biasGrad: f.conv.bias,
        });
        g.dx.dispose();
        grads.set(`${f.conv.name}.weight`, c.dw);
        if (c.db) grads.set(`${f.conv.name}.bias`, c.db);
        // No input gradient past the first conv: what precedes it (pools at most) has no parameters.
        if (!c.dx) break;
        replace(c.dx);
      }
      if (d !== dlogits) d.dispose();
    } finally {
      disposeActivations(saved);
    }
    return inTrainableOrder(this.params, grads, this.desc.name);
  }

  private poolForward(
    f: Extract<VggFeature, { kind: 'pool' }>,
    input: Tensor,
    train: boolean,
    saved: FeatureActivations[],
  ): Tensor {
    const r = maxPool2d(this.gpu, input, poolOpts(f.pool));
    if (train) saved.push({ kind: 'pool', inputShape: input.shape, indices: r.indices, out: r.out });
    else r.indices.dispose();
    return r.out;
  }

  private async convForward(
    f: Extract<VggFeature, { kind: 'conv' }>,
    input: Tensor,
    o: {
      train: boolean;
      update: StatsUpdate;
      scratch: Map<number, Tensor>;
      folded: Map<string, FoldedConv> | undefined;
      capture: CaptureHook | undefined;
    },
    saved: FeatureActivations[],
  ): Promise<Tensor> {
    const gpu = this.gpu;
    const fold = o.folded?.get(f.conv.name);
    if (fold && !o.capture)
      return conv2d(gpu, input, fold.weight, { ...convOpts(f), bias: fold.bias, relu: true });
    const pre = conv2d(gpu, input, this.params.get(`${f.conv.name}.weight`), {
      ...convOpts(f),
      bias: f.conv.bias ? this.params.get(`${f.conv.name}.bias`) : undefined,
    });
    try {
      if (o.capture) await o.capture(f.unit, pre);
    } catch (e) {
      if (!o.train) pre.dispose();
      throw e;
    }
    const r = bnForward(gpu, this.params, f.bn, pre, { ...o, relu: true });
    if (!o.train) {
      pre.dispose();
      return r.out;
    }
    saved.push({ kind: 'conv', input, pre, stats: r.stats as Tensor, out: r.out });
    return r.out;
  }
}

/** Frees everything a train-mode forward pass kept (never the caller's input). */
function disposeActivations(a: VggActivations): void {
  if (a.consumed) return;
  a.consumed = true;
  for (const f of a.features) {
    if (f.kind === 'conv') {
      f.pre.dispose();
      f.stats.dispose();
    } else f.indices.dispose();
    f.out.dispose();
  }
  // [0] is a view of the last feature map, freed above.
  for (const t of a.classifierInputs.slice(1)) t.dispose();
}
