/**
 * Which kernel family the ops use where there are two: `plain` are the kernels tuned for lavapipe (no
 * workgroup memory: on a CPU adapter barriers cost more than they save), `gpu` the workgroup-memory tiled
 * ones for discrete GPUs (src/ops/linalg/gemm-tiled.ts, src/ops/llm/flash-attention.ts). `auto` picks by adapter:
 * `gpu` unless the adapter is a CPU implementation. Tests force `gpu` on lavapipe so CI checks those
 * kernels too (Node: env SGLP_KERNELS).
 */
export type KernelChoice = 'auto' | 'plain' | 'gpu';

export const KERNEL_CHOICES: readonly KernelChoice[] = ['auto', 'plain', 'gpu'];

/** Parses a KernelChoice (e.g. from an environment variable); undefined or '' is `auto`. */
export function parseKernelChoice(value: string | undefined, source = 'kernels'): KernelChoice {
  if (value === undefined || value === '') return 'auto';
  if ((KERNEL_CHOICES as readonly string[]).includes(value)) return value as KernelChoice;
  throw new Error(`${source}: unknown kernel choice "${value}" (known: ${KERNEL_CHOICES.join(', ')})`);
}

/** Whether the GPU-tuned kernels run: forced either way, or (auto) on every adapter but a CPU one. */
export function gpuKernels(choice: KernelChoice, isCpu: boolean): boolean {
  return choice === 'gpu' || (choice === 'auto' && !isCpu);
}
