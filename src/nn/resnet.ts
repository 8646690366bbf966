// CIFAR-style ResNet (`architecture: 'cifar-resnet'`) and torchvision's ResNet (`'resnet'`: the stem adds
// a max pool) with explicit forward and backward, llm.c style:
// the forward pass keeps, per conv → BN pair, its input, the conv output, the batch statistics and the
// (ReLU'd) BN output; backward walks them in reverse. Removed blocks are absent from the description
// (a pruned stage is shorter), which is exactly the identity. No autograd tape.
//
// Per block: h1 = relu(bn1(conv1(x))), out = relu(bn2(conv2(h1)) + shortcut(x)); the ReLUs, the residual
// add and the running-statistics update are fused into the BN kernels.

import type {
  BatchNorm2dSpec,
  Conv2dSpec,
  ConvBn,
  MaxPool2dSpec,
  ModelDescription,
  ResidualBlockSpec,
  ResnetNet,
} from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import {
  add,
  batchNorm2dBackward,
  batchNorm2dEval,
  conv2d,
  conv2dBackward,
  globalAvgPool2d,
  globalAvgPool2dBackward,
  linear,
  linearBackward,
  maxPool2d,
  maxPool2dBackward,
  reluBackward,
  shortcutA,
  shortcutABackward,
  shortcutAPad,
} from '../ops/index.js';
import {
  bnForward,
  bnParams,
  type FoldedConv,
  FoldedSnapshot,
  runningUpdate,
  type StatsUpdate,
} from './conv-bn.js';
import { inTrainableOrder, type ParamStore } from './params.js';

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

/** Gradients by state-dict key, for every weight and bias, in state_dict order. */
export type Gradients = Map<string, Tensor>;

function convOpts(conv: Conv2dSpec) {
  return { stride: conv.stride, padding: conv.padding };
}

function poolOpts(pool: MaxPool2dSpec) {
  return { kernel: pool.kernel, stride: pool.stride, padding: pool.padding };
}

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
      const stemPre = this.convForward(stem.conv, x);
      if (capture) await capture(0, stemPre);
      const stemAct = this.bnForward(stem.bn, stemPre, train, update, scratch, true);
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
        const act = this.blockForward(block, hcur, train, update, scratch);
        const out = act.body[act.body.length - 1].out;
        if (capture) await capture(block.unit, out);
        if (train) blocks.push(act);
        else hcur.dispose();
        hcur = out;
      }
      const featureShape = hcur.shape;
      const pooled = globalAvgPool2d(this.gpu, hcur);
      if (!train) hcur.dispose();
      const logits = this.fcForward(pooled);
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
      const pre = this.convForward(stem.conv, x);
      try {
        await capture(0, pre);
      } catch (e) {
        pre.dispose();
        throw e;
      }
      hcur = batchNorm2dEval(gpu, pre, bnParams(this.params, stem.bn), { eps: stem.bn.eps, relu: true });
      pre.dispose();
      hcur = this.stemPool(hcur);
    } else hcur = this.foldedStem(x, convs);
    try {
      for (let b = 0; b < this.blocks.length; b++) {
        const out = this.foldedBlock(b, hcur, convs);
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
    return this.foldedStem(x, this.snapshot());
  }

  /** Block `b` of this.blocks (see evalStem). */
  evalBlock(b: number, input: Tensor): Tensor {
    return this.foldedBlock(b, input, this.snapshot());
  }

  /** The logits of the last feature map (see evalStem). */
  evalHead(features: Tensor): Tensor {
    const pooled = globalAvgPool2d(this.gpu, features);
    const logits = this.fcForward(pooled);
    pooled.dispose();
    return logits;
  }

  private snapshot(): Map<string, FoldedConv> {
    const convs = this.folded.current();
    if (!convs) throw new Error(`${this.desc.name}: evalStem/evalBlock need freezeForEval() first`);
    return convs;
  }

  private foldedConv(
    convs: Map<string, FoldedConv>,
    conv: Conv2dSpec,
    input: Tensor,
    relu: boolean,
    residual?: Tensor,
  ): Tensor {
    const f = convs.get(conv.name) as FoldedConv;
    return conv2d(this.gpu, input, f.weight, { ...convOpts(conv), bias: f.bias, relu, residual });
  }

  /** The max pool of a torchvision stem (frees its input), or the input as is. */
  private stemPool(h: Tensor): Tensor {
    const pool = this.net.stem.pool;
    if (!pool) return h;
    const p = maxPool2d(this.gpu, h, poolOpts(pool));
    p.indices.dispose();
    h.dispose();
    return p.out;
  }

  private foldedStem(x: Tensor, convs: Map<string, FoldedConv>): Tensor {
    return this.stemPool(this.foldedConv(convs, this.net.stem.conv, x, true));
  }

  private foldedBlock(b: number, hcur: Tensor, convs: Map<string, FoldedConv>): Tensor {
    const block = this.blocks[b];
    let inp = hcur;
    for (let i = 0; i < block.body.length - 1; i++) {
      const next = this.foldedConv(convs, block.body[i].conv, inp, true);
      if (inp !== hcur) inp.dispose();
      inp = next;
    }
    const sc = block.shortcut;
    const residual =
      sc.kind === 'identity'
        ? hcur
        : sc.kind === 'pad'
          ? shortcutA(this.gpu, hcur, block.output[0])
          : this.foldedConv(convs, sc.conv, hcur, false);
    const out = this.foldedConv(convs, block.body[block.body.length - 1].conv, inp, true, residual);
    if (inp !== hcur) inp.dispose();
    if (residual !== hcur) residual.dispose();
    return out;
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
        const next = this.blockBackward(this.blocks[b], saved.blocks[b], d, added);
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
      this.pairBackward(stem, saved.stem, d, last, { mask: true, inputGrad: false });
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
    const pre = this.convForward(stem.conv, x);
    const act = this.bnForward(stem.bn, pre, true, false, scratch, true);
    const pair: PairActivations = { input: x, pre, stats: act.stats as Tensor, out: act.out };
    if (!stem.pool) return { pair, pool: undefined, out: act.out };
    const pool = maxPool2d(this.gpu, act.out, poolOpts(stem.pool));
    return { pair, pool, out: pool.out };
  }

  /** Block `b` of this.blocks (see trainStem); its output is `body.at(-1).out`. */
  trainBlock(b: number, input: Tensor, scratch: Map<number, Tensor>): BlockActivations {
    return this.blockForward(this.blocks[b], input, true, false, scratch);
  }

  /** The pooled features and logits of the last feature map (see trainStem). */
  trainHead(features: Tensor): { pooled: Tensor; logits: Tensor } {
    const pooled = globalAvgPool2d(this.gpu, features);
    return { pooled, logits: this.fcForward(pooled) };
  }

  /**
   * One residual block on `input` (which stays the caller's). Eval mode frees every intermediate and keeps
   * only the output, `body.at(-1).out`; train mode keeps each pair's activations for backward.
   */
  private blockForward(
    block: ResidualBlockSpec,
    input: Tensor,
    train: boolean,
    update: StatsUpdate,
    scratch: Map<number, Tensor>,
  ): BlockActivations {
    const run = (spec: ConvBn, inp: Tensor, relu: boolean, residual?: Tensor) =>
      this.pairForward(spec, inp, train, update, scratch, relu, residual);
    const body: PairActivations[] = [];
    let inp = input;
    for (let i = 0; i < block.body.length - 1; i++) {
      const pair = run(block.body[i], inp, true);
      if (!train && inp !== input) inp.dispose();
      body.push(pair);
      inp = pair.out;
    }
    let shortcut: PairActivations | undefined;
    let residual: Tensor;
    const sc = block.shortcut;
    if (sc.kind === 'identity') residual = input;
    else if (sc.kind === 'pad') residual = shortcutA(this.gpu, input, block.output[0]);
    else {
      shortcut = run(sc, input, false);
      residual = shortcut.out;
    }
    const last = run(block.body[block.body.length - 1], inp, true, residual);
    if (!train && inp !== input) inp.dispose();
    body.push(last);
    if (residual !== input && (sc.kind === 'pad' || !train)) residual.dispose();
    return { body, shortcut };
  }

  /** The conv alone (its own bias, if any), no BN. */
  private convForward(conv: Conv2dSpec, input: Tensor): Tensor {
    return conv2d(this.gpu, input, this.params.get(`${conv.name}.weight`), {
      ...convOpts(conv),
      bias: conv.bias ? this.params.get(`${conv.name}.bias`) : undefined,
    });
  }

  private fcForward(pooled: Tensor): Tensor {
    const fc = this.net.fc;
    return linear(
      this.gpu,
      pooled,
      this.params.get(`${fc.name}.weight`),
      fc.bias ? this.params.get(`${fc.name}.bias`) : undefined,
    );
  }

  private bnForward(
    bn: BatchNorm2dSpec,
    pre: Tensor,
    train: boolean,
    update: StatsUpdate,
    scratch: Map<number, Tensor>,
    relu: boolean,
    residual?: Tensor,
  ): { out: Tensor; stats?: Tensor } {
    return bnForward(this.gpu, this.params, bn, pre, { train, update, scratch, relu, residual });
  }

  private pairForward(
    spec: ConvBn,
    input: Tensor,
    train: boolean,
    update: StatsUpdate,
    scratch: Map<number, Tensor>,
    relu: boolean,
    residual?: Tensor,
  ): PairActivations {
    const { conv, bn } = spec;
    const pre = this.convForward(conv, input);
    const r = this.bnForward(bn, pre, train, update, scratch, relu, residual);
    if (!train) pre.dispose();
    return { input, pre, stats: r.stats as Tensor, out: r.out };
  }

  /** dInput of one conv → BN pair given the gradient of its output (masked by its ReLU when `mask`). */
  private pairBackward(
    spec: ConvBn,
    act: PairActivations,
    dout: Tensor,
    grads: Map<string, Tensor>,
    opts: { mask: boolean; inputGrad: boolean },
  ): Tensor | undefined {
    const { conv, bn } = spec;
    const g = batchNorm2dBackward(this.gpu, dout, act.pre, this.params.get(`${bn.name}.weight`), act.stats, {
      eps: bn.eps,
      reluOutput: opts.mask ? act.out : undefined,
    });
    grads.set(`${bn.name}.weight`, g.dweight);
    grads.set(`${bn.name}.bias`, g.dbias);
    const c = conv2dBackward(this.gpu, act.input, this.params.get(`${conv.name}.weight`), g.dx, {
      ...convOpts(conv),
      inputGrad: opts.inputGrad,
      biasGrad: conv.bias,
    });
    g.dx.dispose();
    grads.set(`${conv.name}.weight`, c.dw);
    if (c.db) grads.set(`${conv.name}.bias`, c.db);
    return c.dx;
  }

  private blockBackward(
    block: ResidualBlockSpec,
    act: BlockActivations,
    dout: Tensor,
    grads: Map<string, Tensor>,
  ): Tensor {
    const gpu = this.gpu;
    const last = act.body.length - 1;
    const input = act.body[0].input;
    // Through the final ReLU: the gradient of both the last BN output and the shortcut.
    const g = reluBackward(gpu, dout, act.body[last].out);
    let d = g;
    for (let i = last; i >= 0; i--) {
      const next = this.pairBackward(block.body[i], act.body[i], d, grads, {
        mask: i !== last,
        inputGrad: true,
      });
      if (d !== g) d.dispose();
      d = next as Tensor;
    }
    const sc = block.shortcut;
    let dShort: Tensor;
    if (sc.kind === 'identity') dShort = g;
    else if (sc.kind === 'pad') dShort = shortcutABackward(gpu, g, input.shape, block.output[0]);
    else {
      dShort = this.pairBackward(sc, act.shortcut as PairActivations, g, grads, {
        mask: false,
        inputGrad: true,
      }) as Tensor;
    }
    const dInput = add(gpu, d, dShort);
    d.dispose();
    if (dShort !== g) dShort.dispose();
    g.dispose();
    return dInput;
  }
}

/** Adds a piece's gradients to `all` and hands the piece on. */
function collect(all: Map<string, Tensor>, piece: Map<string, Tensor>): Map<string, Tensor> {
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
function disposeActivations(a: ResnetActivations): void {
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
