// Builders shared by the arch tests: validated configs, the PyTorch reference numbers, in-memory checkpoints.

import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { ModelDescription } from '../../src/arch/types.js';
import { type ModelConfig, validateModelConfig } from '../../src/io/config.js';
import { openSafetensors, type SafetensorsFile } from '../../src/io/safetensors.js';
import { serializeSafetensors, type TensorToWrite } from '../../src/io/safetensors-write.js';
import { bytesSource } from '../../src/io/source.js';

/** A validated config of `architecture` with the image fields derived from `input` ([C, H, W]). */
export function config(
  fields: Record<string, unknown>,
  input: [number, number, number],
  classes = 10,
): ModelConfig {
  const c = input[0];
  return validateModelConfig({
    in_channels: c,
    num_classes: classes,
    input_size: input,
    normalize: { mean: Array(c).fill(0.5), std: Array(c).fill(0.25) },
    ...fields,
  });
}

export interface TorchReference {
  /** state_dict() keys and shapes in order, num_batches_tracked included (absent for the deepest models). */
  readonly keys?: [string, number[]][];
  readonly params: number;
  readonly macs: number;
  /** Each unit's name and output shape for one sample. */
  readonly units: [string, number[]][];
}

const REFERENCE: Record<string, TorchReference> = JSON.parse(
  readFileSync(new URL('./fixtures/torch-reference.json', import.meta.url), 'utf8'),
);

/** Numbers taken from PyTorch modules by fixtures/torch_reference.py. */
export function torchReference(name: string): TorchReference {
  const ref = REFERENCE[name];
  if (!ref) throw new Error(`no PyTorch reference "${name}" in fixtures/torch-reference.json`);
  return ref;
}

/** Keys, shapes, order, params, MACs and unit output shapes all agree with PyTorch. */
export function expectMatchesTorch(desc: ModelDescription, name: string): void {
  const ref = torchReference(name);
  expect(desc.paramCount).toBe(ref.params);
  expect(desc.macs).toBe(ref.macs);
  expect(desc.units.map((u) => [u.name, [...u.output]])).toEqual(ref.units);
  if (ref.keys) {
    const tracked = (k: string) => k.endsWith('.num_batches_tracked');
    expect(desc.params.map((p) => [p.key, [...p.shape]])).toEqual(ref.keys.filter(([k]) => !tracked(k)));
    expect(desc.ignoredKeys).toEqual(ref.keys.filter(([k]) => tracked(k)).map(([k]) => k));
  }
  // Units and the head account for every tensor, params and MACs exactly once.
  const unitKeys = desc.units.flatMap((u) => u.keys);
  expect(new Set(unitKeys).size).toBe(unitKeys.length);
  expect(desc.units.reduce((n, u) => n + u.macs, 0)).toBeLessThanOrEqual(desc.macs);
}

/** A checkpoint holding every tensor of `desc` (small values, variances 1), as PyTorch would save it. */
export function stateDict(
  desc: ModelDescription,
  options: { withTracked?: boolean } = {},
): Record<string, TensorToWrite> {
  const out: Record<string, TensorToWrite> = {};
  let seed = 1;
  for (const p of desc.params) {
    const n = p.shape.reduce((a, d) => a * d, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      data[i] = p.kind === 'running_var' ? 1 : (seed / 2 ** 32 - 0.5) * 0.1;
    }
    out[p.key] = { dtype: 'F32', shape: p.shape, data };
  }
  if (options.withTracked !== false) {
    for (const k of desc.ignoredKeys) out[k] = { dtype: 'I64', shape: [], data: new BigInt64Array([100n]) };
  }
  return out;
}

export async function openStore(
  tensors: Record<string, TensorToWrite>,
  name = 'model.safetensors',
): Promise<SafetensorsFile> {
  return openSafetensors(bytesSource(await serializeSafetensors(tensors), name));
}
