import { describe, expect, it } from 'vitest';
import { gpuKernels, parseKernelChoice } from '../../src/gpu/kernel-choice.js';

describe('kernel family choice', () => {
  it('auto takes the GPU kernels on every adapter but a CPU one; plain and gpu force', () => {
    expect(gpuKernels('auto', false)).toBe(true);
    expect(gpuKernels('auto', true)).toBe(false);
    expect(gpuKernels('gpu', true)).toBe(true);
    expect(gpuKernels('plain', false)).toBe(false);
  });

  it('parses SGLP_KERNELS, empty or unset as auto, and names a bad value and its source', () => {
    expect(parseKernelChoice(undefined)).toBe('auto');
    expect(parseKernelChoice('')).toBe('auto');
    expect(parseKernelChoice('gpu')).toBe('gpu');
    expect(parseKernelChoice('plain')).toBe('plain');
    expect(() => parseKernelChoice('tiled', 'SGLP_KERNELS')).toThrow(
      /SGLP_KERNELS: unknown kernel choice "tiled" \(known: auto, plain, gpu\)/,
    );
  });
});
