// LLaMA-family decoder (Hugging Face LlamaForCausalLM semantics; Mistral and Qwen2 share them for sequences
// within the sliding window) with explicit forward and backward, llm.c style: a train-mode forward keeps,
// per decoder layer, what its backward reads; backward walks the layers in reverse. No autograd tape.
//
// Per layer, on rows = tokens [N, hidden]:
//   n1 = rmsnorm(x); q, k, v = n1 Wqᵀ (+b), ...; q, k = rope(q, k); a = causal GQA attention(q, k, v)
//   x1 = x + a Woᵀ;  n2 = rmsnorm(x1);  x2 = x1 + (silu(n2 Wgᵀ) * n2 Wuᵀ) Wdᵀ
// then logits = rmsnorm(x_L) W_headᵀ, W_head being the embedding when tied. One decoder layer's forward and
// backward are in llama-layer.ts, the LM head's loss in llama-head.ts (the streamed paths share both).

import type { DecoderLayerSpec, LlamaNet } from '../arch/llama.js';
import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import {
  embedding,
  embeddingBackward,
  linear,
  linearBackward,
  nextTokenTargets,
  parseRopeScaling,
  type RopeTables,
  rmsNorm,
  rmsNormBackward,
  ropeTables,
  type TokenIds,
  uploadTokens,
} from '../ops/index.js';
import type { CaptureHook, Gradients } from './forward.js';
import { type HeadLoss, headCrossEntropy } from './llama-head.js';
import { decoderLayerBackward, decoderLayerForward, type LayerActivations } from './llama-layer.js';
import type { ParamStore } from './params.js';

export interface LlamaForwardOptions {
  /** Keep the activations backward needs (default false: intermediates are freed as soon as used). */
  readonly train?: boolean;
  /**
   * Receives each decoder layer's output hidden state [tokens, hidden] (docs/method.md §1: rows are the B·T
   * tokens in order). The tensor belongs to the model: copy it or finish reading it (a returned promise is
   * awaited) before the forward pass goes on; in eval mode it is freed when the next layer is done.
   */
  readonly capture?: CaptureHook;
}

/** Saved activations of a train-mode forward pass; `backward` consumes them, `dispose()` drops them. */
export interface LlamaActivations {
  readonly kind: 'llama-activations';
  readonly tokens: TokenIds;
  /** The embedding output [N, hidden], the first layer's input. */
  readonly x0: Tensor;
  readonly layers: LayerActivations[];
  /** Final norm output [N, hidden] and its rstd. */
  readonly nf: Tensor;
  readonly rstdf: Tensor;
  consumed: boolean;
  dispose(): void;
}

export interface LlamaForwardResult {
  /** [B·T, vocab]. */
  readonly logits: Tensor;
  readonly saved: LlamaActivations | undefined;
}

export interface LlamaLoss {
  /** Mean next-token NLL over the predicted tokens (positions 2…T of each window). */
  readonly nll: number;
  /** Predicted tokens counted. */
  readonly tokens: number;
  /** Sum of their NLL (for means over several calls). */
  readonly sum: number;
  /** Present when asked for: d mean NLL / d every weight, by state-dict key, in state_dict order. */
  readonly grads?: Gradients;
}

function disposeSaved(s: LlamaActivations): void {
  s.consumed = true;
  s.x0.dispose();
  for (const l of s.layers) {
    for (const [key, t] of Object.entries(l)) if (key !== 'x') (t as Tensor).dispose();
  }
  s.nf.dispose();
  s.rstdf.dispose();
}

export class Llama {
  readonly net: LlamaNet;
  private readonly tables = new Map<number, RopeTables>();

  constructor(
    readonly gpu: Gpu,
    readonly desc: ModelDescription,
    readonly params: ParamStore,
  ) {
    if (desc.architecture !== 'llama') {
      throw new Error(`Llama runs architecture 'llama', got '${desc.architecture}' (${desc.name})`);
    }
    if (params.desc !== desc && params.keys().join('\n') !== desc.params.map((p) => p.key).join('\n')) {
      throw new Error(
        `${desc.name}: the parameter store holds another model's tensors (${params.desc.name})`,
      );
    }
    this.net = desc.net;
  }

  /** Uploads windows of token ids [batch, seq] (with the index backward needs when `train`). */
  tokens(ids: ArrayLike<number>, batch: number, seq: number, train = false): TokenIds {
    return uploadTokens(this.gpu, ids, [batch, seq], this.net.vocab, { index: train });
  }

  /** Forward pass of windows tokens [B, T] (position ids 0…T−1 in each). The tokens stay the caller's. */
  async forward(tokens: TokenIds, opts: LlamaForwardOptions = {}): Promise<LlamaForwardResult> {
    const { hidden, saved } = await this.forwardHidden(tokens, opts);
    const logits = linear(this.gpu, hidden, this.params.get(this.net.head));
    if (!saved) hidden.dispose();
    return { logits, saved };
  }

  /**
   * The forward pass up to the LM head: the final RMSNorm's output [B·T, hidden], the caller's in eval
   * mode, `saved.nf` (owned by the activations) in train mode.
   */
  async forwardHidden(
    tokens: TokenIds,
    opts: LlamaForwardOptions = {},
  ): Promise<{ hidden: Tensor; saved: LlamaActivations | undefined }> {
    const gpu = this.gpu;
    const net = this.net;
    if (tokens.shape.length !== 2) {
      throw new Error(`${this.desc.name}: tokens must be [batch, seq], got [${tokens.shape.join(', ')}]`);
    }
    if (tokens.vocab !== net.vocab) {
      throw new Error(
        `${this.desc.name}: tokens were checked against vocab ${tokens.vocab}, not ${net.vocab}`,
      );
    }
    const train = opts.train ?? false;
    if (train && !tokens.index) {
      throw new Error(`${this.desc.name}: a train-mode forward needs tokens uploaded with their index`);
    }
    const [B, T] = tokens.shape;
    const N = B * T;
    const h = net.hidden;
    const tables = this.ropeFor(T);
    const x0 = embedding(gpu, this.params.get(net.embed), tokens);
    let x = x0.reshape([N, h]);
    // Eval mode: the tensor that owns x's buffer, freed once the next layer has read it.
    let owner = x0;
    const layers: LayerActivations[] = [];
    try {
      for (const spec of net.layers) {
        const acts = await gpu.scope(() => this.layerForward(spec, x, tables, B, T));
        if (train) layers.push(acts);
        else {
          owner.dispose();
          for (const [key, t] of Object.entries(acts))
            if (key !== 'x' && key !== 'out') (t as Tensor).dispose();
          owner = acts.out;
        }
        x = acts.out;
        if (opts.capture) await opts.capture(spec.unit, x);
      }
      const f = rmsNorm(gpu, x, this.params.get(net.norm), net.eps);
      if (!train) {
        f.rstd.dispose();
        owner.dispose();
        return { hidden: f.out, saved: undefined };
      }
      const saved: LlamaActivations = {
        kind: 'llama-activations',
        tokens,
        x0,
        layers,
        nf: f.out,
        rstdf: f.rstd,
        consumed: false,
        dispose() {
          if (!this.consumed) disposeSaved(this);
        },
      };
      return { hidden: f.out, saved };
    } catch (e) {
      for (const l of layers) for (const [k, t] of Object.entries(l)) if (k !== 'x') (t as Tensor).dispose();
      owner.dispose();
      throw e;
    }
  }

  /**
   * Gradients of every weight given dlogits (d loss / d logits, [B·T, vocab]) from the saved activations,
   * which this consumes. Tied models get one gradient for the shared tensor (head + embedding). dlogits
   * stays the caller's.
   */
  backward(saved: LlamaActivations, dlogits: Tensor): Gradients {
    if (saved.consumed) throw new Error(`${this.desc.name}: these activations were already used or disposed`);
    const gpu = this.gpu;
    const net = this.net;
    let head: ReturnType<typeof linearBackward>;
    try {
      head = linearBackward(gpu, saved.nf, this.params.get(net.head), dlogits);
    } catch (e) {
      disposeSaved(saved);
      throw e;
    }
    try {
      return this.backwardHidden(saved, head.dx as Tensor, head.dw);
    } finally {
      head.dx?.dispose();
    }
  }

  /**
   * backward from the gradient of the final norm's output `dHidden` [B·T, hidden] (the caller's) and the
   * LM head's weight gradient `headGrad` (taken over: it becomes the head's, or for a tied model the
   * embedding's, gradient). Consumes the activations.
   */
  backwardHidden(saved: LlamaActivations, dHidden: Tensor, headGrad: Tensor): Gradients {
    if (saved.consumed) throw new Error(`${this.desc.name}: these activations were already used or disposed`);
    const gpu = this.gpu;
    const net = this.net;
    const grads = new Map<string, Tensor>([[net.head, headGrad]]);
    try {
      const xl = saved.layers.at(-1)?.out ?? saved.x0;
      const fb = rmsNormBackward(gpu, dHidden, xl, this.params.get(net.norm), saved.rstdf);
      grads.set(net.norm, fb.dweight);
      let dx = fb.dx;
      for (let i = net.layers.length - 1; i >= 0; i--) {
        const next = this.layerBackward(net.layers[i], saved.layers[i], dx, grads, saved.tokens.shape);
        dx.dispose();
        dx = next;
      }
      const dEmbed = embeddingBackward(gpu, dx, saved.tokens, net.tied ? { into: headGrad } : {});
      dx.dispose();
      if (!net.tied) grads.set(net.embed, dEmbed);
    } catch (e) {
      for (const g of grads.values()) g.dispose();
      throw e;
    } finally {
      disposeSaved(saved);
    }
    const ordered: Gradients = new Map();
    for (const p of this.desc.params) {
      const g = grads.get(p.key);
      if (!g) throw new Error(`${this.desc.name}: backward produced no gradient for "${p.key}"`);
      ordered.set(p.key, g);
    }
    return ordered;
  }

  /**
   * Mean next-token NLL of windows [batch, seq] (the targets are the ids shifted by one; the last position
   * of each window predicts nothing), and with `grads` its gradient for every weight (GradNorm, docs/method.md §4).
   * The LM head and the loss run on slices of `headRows` token rows (default: as many as one storage
   * binding holds logits for), so a 128k vocabulary never needs a [B·T, vocab] buffer.
   */
  async nextTokenLoss(
    ids: ArrayLike<number>,
    batch: number,
    seq: number,
    opts: { grads?: boolean; headRows?: number } = {},
  ): Promise<LlamaLoss> {
    const train = opts.grads ?? false;
    const targetIds = nextTokenTargets(ids, batch, seq);
    const count = targetIds.reduce((n, t) => n + (t >= 0 ? 1 : 0), 0);
    if (count === 0) throw new Error(`${this.desc.name}: windows of ${seq} token(s) predict nothing`);
    const W = this.params.get(this.net.head);
    const tokens = this.tokens(ids, batch, seq, train);
    let head: HeadLoss | undefined;
    try {
      const { hidden, saved } = await this.forwardHidden(tokens, { train });
      try {
        const target = { ids: targetIds, count };
        head = await headCrossEntropy(this.gpu, hidden, W, target, this.net.vocab, !!saved, opts.headRows);
      } catch (e) {
        saved?.dispose();
        throw e;
      } finally {
        if (!saved) hidden.dispose();
      }
      let grads: Gradients | undefined;
      if (saved && head.dHidden && head.headGrad) {
        grads = this.backwardHidden(saved, head.dHidden, head.headGrad);
        head.headGrad = undefined;
      }
      const result = { nll: head.sum / count, tokens: count, sum: head.sum };
      return grads ? { ...result, grads } : result;
    } finally {
      head?.headGrad?.dispose();
      head?.dHidden?.dispose();
      tokens.dispose();
    }
  }

  dispose(): void {
    for (const tb of this.tables.values()) {
      tb.cos.dispose();
      tb.sin.dispose();
    }
    this.tables.clear();
  }

  private ropeFor(T: number): RopeTables {
    let tb = this.tables.get(T);
    if (!tb) {
      const scaling = parseRopeScaling(this.net.ropeScaling);
      tb = ropeTables(
        this.gpu,
        { headDim: this.net.headDim, theta: this.net.ropeTheta, ...(scaling ? { scaling } : {}) },
        { length: T },
      );
      this.gpu.keep(tb.cos);
      this.gpu.keep(tb.sin);
      this.tables.set(T, tb);
    }
    return tb;
  }

  /** Runs inside a scope: returns every tensor it keeps (the rest is freed by the scope). */
  private layerForward(
    l: DecoderLayerSpec,
    x: Tensor,
    tables: RopeTables,
    B: number,
    T: number,
  ): LayerActivations {
    return decoderLayerForward(this.gpu, this.net, l, (key) => this.params.get(key), x, tables, B, T);
  }

  /** dx of the layer input from dout; weight gradients go into `grads`. Frees its own temporaries. */
  private layerBackward(
    l: DecoderLayerSpec,
    s: LayerActivations,
    dout: Tensor,
    grads: Map<string, Tensor>,
    shape: readonly number[],
  ): Tensor {
    const [B, T] = shape;
    const get = (key: string) => this.params.get(key);
    return decoderLayerBackward(this.gpu, this.net, l, get, s, dout, grads, this.ropeFor(T), B, T);
  }
}
