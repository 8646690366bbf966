// CIFAR-style ResNet (`architecture: 'cifar-resnet'`) and torchvision's ResNet (`'resnet'`: the stem adds
// a max pool) with explicit forward and backward, llm.c style:
// the forward pass keeps, per conv → BN pair, its input, the conv output, the batch statistics and the
// (ReLU'd) BN output; backward walks them in reverse. Removed blocks are absent from the description
// (a pruned stage is shorter), which is exactly the identity. No autograd tape.
//
// Per block: h1 = relu(bn1(conv1(x))), out = relu(bn2(conv2(h1)) + shortcut(x)); the ReLUs, the residual
// add and the running-statistics update are fused into the BN kernels.

import type { ConvBn, ModelDescription, ResidualBlockSpec, ResnetNet } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import {
  batchNorm2dEval,
  globalAvgPool2d,
  globalAvgPool2dBackward,
  linearBackward,
  maxPool2d,
  maxPool2dBackward,
  shortcutAPad,
} from '../ops/index.js';
import { bnParams, type FoldedConv, FoldedSnapshot, runningUpdate } from './conv-bn.js';
import type { CaptureHook, ForwardOptions, Gradients } from './forward.js';
import { inTrainableOrder, type ParamStore } from './params.js';
import {
  type BlockActivations,
  collect,
  disposeActivations,
  type ForwardResult,
  type PairActivations,
  poolOpts,
  type ResnetActivations,
} from './resnet-activations.js';
import {
  blockBackward,
  blockForward,
  bnPass,
  convForward,
  fcForward,
  foldedBlock,
  foldedStem,
  pairBackward,
  stemPool,
} from './resnet-layers.js';

export class CifarResnet {
  readonly net: ResnetNet;
  readonly blocks: readonly ResidualBlockSpec[];
  private readonly folded: FoldedSnapshot;

  constructor(
    readonly gpu: Gpu,
    readonly desc: ModelDescription,
    readonly params: ParamStore,
  ) {
    if (desc.architecture !== 'cifar-resnet' && desc.architecture !== 'resnet') {
      throw new Error(
        `CifarResnet runs architectures 'cifar-resnet' and 'resnet', got '${desc.architecture}' (${desc.name})`,
      );
    }
    if (params.desc !== desc && params.keys().join('\n') !== desc.params.map((p) => p.key).join('\n')) {
      throw new Error(
        `${desc.name}: the parameter store holds another model's tensors (${params.desc.name})`,
      );
    }
    this.net = desc.net;
    this.folded = new FoldedSnapshot(gpu, params);
    if (desc.architecture === 'cifar-resnet' && this.net.stem.pool)
      throw new Error(`${desc.name}: a cifar-resnet stem has no max pool`);
    this.blocks = this.net.stages.flat();
    for (const b of this.blocks) {
      const sc = b.shortcut;
      if (sc.kind === 'pad') {
        const pad = shortcutAPad(b.output[0]);
        if (sc.stride !== 2 || sc.padBefore !== pad || sc.padAfter !== pad) {
          throw new Error(
            `${desc.name} ${b.name}: option-A shortcut must be stride 2 with ${pad} zero channels each side, ` +
              `got stride ${sc.stride}, pad ${sc.padBefore}/${sc.padAfter}`,
          );
        }
      }
    }
  }

  /** Forward pass of x [N, C, H, W] (normalised images). x stays the caller's. */
  async forward(x: Tensor, options: ForwardOptions): Promise<ForwardResult> {
    const [c, h, w] = this.desc.input;
    if (x.shape.length !== 4 || x.shape[1] !== c || x.shape[2] !== h || x.shape[3] !== w) {
      throw new Error(`${this.desc.name}: input must be [N, ${c}, ${h}, ${w}], got [${x.shape.join(', ')}]`);
    }
    const train = options.mode === 'train';
    if (train) this.unfreeze();
    const folded = train ? undefined : this.folded.current();
    if (folded) return { logits: await this.foldedForward(x, folded, options.capture), saved: undefined };
    const update = runningUpdate(options);
    const capture = options.capture;
    const scratch = new Map<number, Tensor>();
    const blocks: BlockActivations[] = [];
    try {
      // Stem: its representation is the raw conv output.
      const stem = this.net.stem;
      const stemPre = convForward(this, stem.conv, x);
      if (capture) await capture(0, stemPre);
      const stemAct = bnPass(this, stem.bn, stemPre, train, update, scratch, true);
      if (!train) stemPre.dispose();
      const stemPair: PairActivations = {
        input: x,
        pre: stemPre,
        stats: stemAct.stats as Tensor,
        out: stemAct.out,
      };
      let hcur = stemAct.out;
      let stemPool: ResnetActivations['stemPool'];
      if (stem.pool) {
        const p = maxPool2d(this.gpu, hcur, poolOpts(stem.pool));
        if (train) stemPool = p;
        else {
          p.indices.dispose();
          hcur.dispose();
        }
        hcur = p.out;
      }
      for (const block of this.blocks) {
        const act = blockForward(this, block, hcur, train, update, scratch);
        const out = act.body[act.body.length - 1].out;
        if (capture) await capture(block.unit, out);
        if (train) blocks.push(act);
        else hcur.dispose();
        hcur = out;
      }
      const featureShape = hcur.shape;
      const pooled = globalAvgPool2d(this.gpu, hcur);
      if (!train) hcur.dispose();
      const logits = fcForward(this, pooled);
      if (!train) {
        pooled.dispose();
        return { logits, saved: undefined };
      }
      const saved: ResnetActivations = {
        kind: 'resnet-activations',
        x,
        stem: stemPair,
        stemPool,
        blocks,
        pooled,
        featureShape,
        consumed: false,
        dispose() {
          disposeActivations(this);
        },
      };
      return { logits, saved };
    } finally {
      for (const t of scratch.values()) t.dispose();
    }
  }

  /**
   * Snapshot the current parameters with every BN folded into its conv (computed in f64 on the CPU), so
   * that eval-mode forward passes run one fused conv (+ bias, residual, ReLU) per layer instead of a conv
   * and a BN pass. Dropped by a train-mode forward pass, by unfreeze(), or when ParamStore.write changes a
   * value; an optimiser's in-place update needs a train-mode forward first, so a snapshot never outlives
   * training. Eval outputs differ from the unfolded path by f32 rounding only.
   */
  async freezeForEval(): Promise<void> {
    const pairs: ConvBn[] = [this.net.stem];
    for (const b of this.blocks) {
      pairs.push(...b.body);
      if (b.shortcut.kind === 'projection') pairs.push(b.shortcut);
    }
    await this.folded.freeze(pairs);
  }

  /** Drops the folded snapshot (eval mode goes back to conv + BN). */
  unfreeze(): void {
    this.folded.drop();
  }

  get frozen(): boolean {
    return this.folded.frozen;
  }

  private async foldedForward(
    x: Tensor,
    convs: Map<string, FoldedConv>,
    capture?: CaptureHook,
  ): Promise<Tensor> {
    const gpu = this.gpu;
    const stem = this.net.stem;
    let hcur: Tensor;
    if (capture) {
      // The stem's representation is its raw conv output: run conv and BN apart for it.
      const pre = convForward(this, stem.conv, x);
      try {
        await capture(0, pre);
      } catch (e) {
        pre.dispose();
        throw e;
      }
      hcur = batchNorm2dEval(gpu, pre, bnParams(this.params, stem.bn), { eps: stem.bn.eps, relu: true });
      pre.dispose();
      hcur = stemPool(this, hcur);
    } else hcur = foldedStem(this, x, convs);
    try {
      for (let b = 0; b < this.blocks.length; b++) {
        const out = foldedBlock(this, b, hcur, convs);
        hcur.dispose();
        hcur = out;
        if (capture) await capture(this.blocks[b].unit, out);
      }
      return this.evalHead(hcur);
    } finally {
      hcur.dispose();
    }
  }

  /**
   * forward() in eval mode on the folded snapshot (freezeForEval first), in pieces, for callers that share
   * work between passes (the loss score runs the blocks before a segment once for all its candidates):
   * evalStem, evalBlock per block, evalHead compute exactly what forward() does. Inputs stay the caller's.
   */
  evalStem(x: Tensor): Tensor {
    return foldedStem(this, x, this.snapshot());
  }

  /** Block `b` of this.blocks (see evalStem). */
  evalBlock(b: number, input: Tensor): Tensor {
    return foldedBlock(this, b, input, this.snapshot());
  }

  /** The logits of the last feature map (see evalStem). */
  evalHead(features: Tensor): Tensor {
    const pooled = globalAvgPool2d(this.gpu, features);
    const logits = fcForward(this, pooled);
    pooled.dispose();
    return logits;
  }

  private snapshot(): Map<string, FoldedConv> {
    const convs = this.folded.current();
    if (!convs) throw new Error(`${this.desc.name}: evalStem/evalBlock need freezeForEval() first`);
    return convs;
  }

  /**
   * Gradients of every weight and bias given dlogits (d loss / d logits, [N, numClasses]), from the saved
   * activations of a train-mode forward pass, which this consumes (frees). Deterministic. dlogits stays
   * the caller's.
   */
  backward(saved: ResnetActivations, dlogits: Tensor): Gradients {
    const steps = this.backwardSteps(saved, dlogits);
    for (let r = steps.next(); ; r = steps.next()) if (r.done) return r.value;
  }

  /**
   * backward() one piece at a time, for callers that may stop early (the GradNorm search drops a candidate
   * once its partial norm cannot win): it yields the gradients each piece added (the head, each block from
   * the last, the stem) as soon as their kernels are recorded, and returns them all in trainable order.
   * The yielded tensors are the caller's. Stopping early (return()) frees the activations and the running
   * input gradient; the kernels and their order are backward()'s, so the gradients are bit-identical.
   */
  *backwardSteps(saved: ResnetActivations, dlogits: Tensor): Generator<Gradients, Gradients, void> {
    if (saved.consumed) throw new Error(`${this.desc.name}: these activations were already used or disposed`);
    const gpu = this.gpu;
    const grads = new Map<string, Tensor>();
    const piece = () => new Map<string, Tensor>();
    let d: Tensor | undefined;
    try {
      const fc = this.net.fc;
      const head = piece();
      const lin = linearBackward(gpu, saved.pooled, this.params.get(`${fc.name}.weight`), dlogits, {
        biasGrad: fc.bias,
      });
      head.set(`${fc.name}.weight`, lin.dw);
      if (lin.db) head.set(`${fc.name}.bias`, lin.db);
      saved.pooled.dispose();
      d = globalAvgPool2dBackward(gpu, lin.dx as Tensor, saved.featureShape);
      lin.dx?.dispose();
      yield collect(grads, head);
      for (let b = this.blocks.length - 1; b >= 0; b--) {
        const added = piece();
        const next = blockBackward(this, this.blocks[b], saved.blocks[b], d, added);
        d.dispose();
        d = next;
        yield collect(grads, added);
      }
      const stem = this.net.stem;
      if (stem.pool && saved.stemPool) {
        const dPre = maxPool2dBackward(
          gpu,
          d,
          saved.stemPool.indices,
          saved.stem.out.shape,
          poolOpts(stem.pool),
        );
        d.dispose();
        d = dPre;
      }
      const last = piece();
      pairBackward(this, stem, saved.stem, d, last, { mask: true, inputGrad: false });
      d.dispose();
      d = undefined;
      yield collect(grads, last);
    } finally {
      d?.dispose();
      disposeActivations(saved);
    }
    return inTrainableOrder(this.params, grads, this.desc.name);
  }

  /**
   * forward() in train mode with the running statistics untouched, in pieces, for callers that share work
   * between passes (the GradNorm search runs the blocks before a segment once for all its candidates):
   * trainStem, trainBlock per block, trainHead compute exactly what forward() does. `scratch` holds the
   * throw-away running statistics (dispose its tensors when done); inputs stay the caller's.
   */
  trainStem(
    x: Tensor,
    scratch: Map<number, Tensor>,
  ): { pair: PairActivations; pool: ResnetActivations['stemPool']; out: Tensor } {
    const stem = this.net.stem;
    const pre = convForward(this, stem.conv, x);
    const act = bnPass(this, stem.bn, pre, true, false, scratch, true);
    const pair: PairActivations = { input: x, pre, stats: act.stats as Tensor, out: act.out };
    if (!stem.pool) return { pair, pool: undefined, out: act.out };
    const pool = maxPool2d(this.gpu, act.out, poolOpts(stem.pool));
    return { pair, pool, out: pool.out };
  }

  /** Block `b` of this.blocks (see trainStem); its output is `body.at(-1).out`. */
  trainBlock(b: number, input: Tensor, scratch: Map<number, Tensor>): BlockActivations {
    return blockForward(this, this.blocks[b], input, true, false, scratch);
  }

  /** The pooled features and logits of the last feature map (see trainStem). */
  trainHead(features: Tensor): { pooled: Tensor; logits: Tensor } {
    const pooled = globalAvgPool2d(this.gpu, features);
    return { pooled, logits: fcForward(this, pooled) };
  }
}
