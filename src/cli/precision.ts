// `--precision f32|f16` of the language-model commands (eval on text, cka, prune): how the weight matrices
// are held on the device (nn/params.ts Precision). f16 halves their memory; the GEMMs accumulate in f32 and
// activations stay f32.

import { Option } from 'commander';
import type { Gpu } from '../gpu/device.js';
import { PRECISIONS, type Precision } from '../nn/params.js';

export function precisionOption(): Option {
  return new Option(
    '--precision <P>',
    'language models: weight matrices on the device as f32, or f16 (half the memory, f32 accumulation; ' +
      'needs the adapter feature shader-f16)',
  ).choices([...PRECISIONS]);
}

/** `--precision` checked (API callers pass any string); default f32. */
export function parsePrecision(value: string | undefined): Precision {
  if (value === undefined) return 'f32';
  if (!(PRECISIONS as readonly string[]).includes(value)) {
    throw new Error(`--precision must be one of ${PRECISIONS.join(', ')}, got "${value}"`);
  }
  return value as Precision;
}

/** Fails before any weight is uploaded when the adapter cannot hold f16 weights, naming the feature. */
export function checkPrecisionSupported(gpu: Gpu, precision: Precision): void {
  if (precision === 'f16' && !gpu.hasF16) {
    throw new Error(
      `--precision f16 needs the adapter feature shader-f16, which ${gpu.adapter.description || 'this adapter'} lacks; use --precision f32`,
    );
  }
}

/** Streamed layers are read from the checkpoint as f32: f16 applies to a loaded model only. */
export function checkPrecisionStream(precision: Precision, streamFlag: string | undefined): void {
  if (precision !== 'f32' && streamFlag) {
    throw new Error(
      `--precision ${precision} holds the loaded model's weight matrices as ${precision}; ${streamFlag} runs f32 layers only`,
    );
  }
}
