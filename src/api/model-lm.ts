// A causal LM (LlamaForCausalLM checkpoint), loaded onto the device or opened for layer streaming: its
// config text (a pruned config.json is the input's with the layer count changed), its tokenizer
// (tokenizer.json, or UTF-8 bytes without one), the side files a pruned directory carries over, and the
// open checkpoint, from which the export copies the kept tensors byte for byte (closed by dispose()).
// Streamed (`loadModel(gpu, source, { stream: true })`), nothing is loaded: every stage reads the decoder
// layers one at a time from the checkpoint (src/sglp/families/lm/streamed.ts), in about one layer's memory.

import { describeModel } from '../arch/describe.js';
import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { LlmConfig } from '../io/config.js';
import type { TensorStore } from '../io/safetensors.js';
import { openCheckpoint } from '../io/safetensors-index.js';
import { type DirectorySource, readText } from '../io/source.js';
import { readTokenizer, type TextTokenizer } from '../io/tokenizer.js';
import { ParamStore, type Precision } from '../nn/params.js';
import { HF_SIDE_FILES } from '../sglp/export.js';

/** What a causal LM holds whether it is loaded or streamed. */
interface LanguageModelFiles {
  readonly kind: 'causal-lm';
  readonly gpu: Gpu;
  /** Where it came from, for messages and reports. */
  readonly name: string;
  readonly config: LlmConfig;
  /** config.json as read (the pruned config keeps every field the library does not change). */
  readonly configText: string;
  readonly desc: ModelDescription;
  readonly precision: Precision;
  readonly tokenizer: TextTokenizer;
  /** The input checkpoint, open until dispose(): the export copies unchanged tensors from it. */
  readonly checkpoint: TensorStore;
  /** Tokenizer and generation files of the directory, carried into a pruned one unchanged. */
  readonly sideFiles: ReadonlyMap<string, Uint8Array>;
  dispose(): Promise<void>;
}

/** A causal LM on the device. Call dispose() when done with it (the Gpu stays open). */
export interface LanguageModel extends LanguageModelFiles {
  readonly streamed: false;
  readonly params: ParamStore;
}

/** How a streamed model runs (loadModel's `stream` option). */
export interface StreamOptions {
  /**
   * Calibration streams the model once per CKA batch, holding one batch's CKA state on the device
   * (default true); false streams it once for all batches (fewer checkpoint reads, every batch's state).
   * The CKA matrix is the same bit for bit.
   */
  readonly perBatch?: boolean;
  /** Hold hidden states on the CPU between layers (less device memory, one readback per layer). */
  readonly hostStates?: boolean;
}

/**
 * A causal LM opened for layer streaming: nothing is on the device; cka, prune and evaluate read the
 * decoder layers one at a time from `checkpoint`. Weights run as f32; no fine-tuning. Call dispose().
 */
export interface StreamedLanguageModel extends LanguageModelFiles, Required<StreamOptions> {
  readonly streamed: true;
}

export async function loadLanguageModel(
  gpu: Gpu,
  dir: DirectorySource,
  config: LlmConfig,
  options: {
    readonly checkValues?: boolean;
    readonly precision?: Precision;
    readonly signal?: AbortSignal;
    readonly stream?: boolean | StreamOptions;
  },
): Promise<LanguageModel | StreamedLanguageModel> {
  const desc = describeModel(config);
  const precision = options.precision ?? 'f32';
  if (options.stream && precision !== 'f32') {
    throw new Error(
      `precision ${precision}: a streamed model runs f32 layers only (load it to use ${precision})`,
    );
  }
  if (precision === 'f16' && !gpu.hasF16) {
    throw new Error(`precision f16 needs the adapter feature shader-f16, which this adapter lacks`);
  }
  const configText = await readText(dir, 'config.json');
  const tokenizer = await readTokenizer(dir);
  const sideFiles = new Map<string, Uint8Array>();
  for (const file of HF_SIDE_FILES) {
    if (!(await dir.has(file))) continue;
    const src = await dir.open(file);
    try {
      sideFiles.set(file, await src.read(0, src.size));
    } finally {
      await src.close?.();
    }
  }
  const checkpoint = await openCheckpoint(dir);
  const files = { kind: 'causal-lm', gpu, name: dir.name, config, configText, desc, precision } as const;
  const common = { ...files, tokenizer, checkpoint, sideFiles };
  try {
    options.signal?.throwIfAborted();
    if (options.stream) {
      const s = options.stream === true ? {} : options.stream;
      return {
        ...common,
        streamed: true,
        perBatch: s.perBatch ?? true,
        hostStates: s.hostStates ?? false,
        dispose: () => checkpoint.close(),
      };
    }
    const params = await ParamStore.load(gpu, desc, checkpoint, {
      precision,
      checkValues: options.checkValues ?? true,
    });
    return {
      ...common,
      streamed: false,
      params,
      dispose: async () => {
        params.dispose();
        await checkpoint.close();
      },
    };
  } catch (e) {
    await checkpoint.close();
    throw e;
  }
}
