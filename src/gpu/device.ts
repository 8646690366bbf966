// A WebGPU device for the runtime: acquireDevice asks the adapter for its real limits and the optional
// features the kernels use, and returns the runtime over it (Gpu, gpu.ts).

import type { DeviceLostError } from './errors.js';
import { Gpu } from './gpu.js';
import type { KernelChoice } from './kernel-choice.js';

export { type Dispatch, Gpu, type TypedArray } from './gpu.js';

/** Optional features the runtime uses when the adapter has them. */
export const OPTIONAL_FEATURES = ['shader-f16', 'timestamp-query', 'subgroups'] as const;

export interface AcquireOptions {
  /** The WebGPU entry point; defaults to navigator.gpu (browsers, Deno). Node passes Dawn's. */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /** Time every dispatch with timestamp queries (needs 'timestamp-query'). */
  profile?: boolean;
  /** Called once if the device is lost. */
  onLost?: (error: DeviceLostError) => void;
  /** Most bytes live tensors may hold at once (BufferPool.memoryCap); an allocation past it throws. */
  memoryCap?: number;
  /** How the runtime waits for the device's promises; the default awaits them. Node passes one that sleeps. */
  waiter?: Waiter;
  /** Lavapipe-tuned or GPU-tuned kernels where both exist (src/gpu/kernel-choice.ts); default auto. */
  kernels?: KernelChoice;
}

/** Settles as the given promise does; free to choose how the thread passes the time meanwhile. */
export type Waiter = <T>(p: Promise<T>) => Promise<T>;

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation (lavapipe, SwiftShader): the kernels pick CPU-friendly tiles. */
  isCpu: boolean;
  /** Subgroup size range, when the adapter reports it (0 otherwise). */
  subgroupMinSize: number;
  subgroupMaxSize: number;
}

const CPU_ADAPTER = /llvmpipe|lavapipe|swiftshader|software|cpu/i;

/** Acquires an adapter and a device with the adapter's real limits and the optional features it has. */
export async function acquireDevice(options: AcquireOptions = {}): Promise<Gpu> {
  const cap = options.memoryCap;
  if (cap !== undefined && !(Number.isSafeInteger(cap) && cap > 0)) {
    throw new RangeError(`memoryCap must be a whole number of bytes > 0, got ${cap}`);
  }
  const entry = options.gpu ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!entry) {
    throw new Error(
      'WebGPU is not available here: no navigator.gpu (in Node, use acquireDevice from sglp/node)',
    );
  }
  const adapter = await entry.requestAdapter({
    powerPreference: options.powerPreference ?? 'high-performance',
  });
  if (!adapter) {
    throw new Error(
      'no WebGPU adapter found (on Linux without a GPU, install Mesa lavapipe: mesa-vulkan-drivers)',
    );
  }
  const requiredLimits: Record<string, number> = {};
  for (const key in adapter.limits) {
    const value = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof value === 'number') requiredLimits[key] = value;
  }
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'sglp' });
  const info = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
  const summary: AdapterSummary = {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isCpu: CPU_ADAPTER.test(`${info.vendor} ${info.architecture} ${info.description}`),
    subgroupMinSize: info.subgroupMinSize ?? 0,
    subgroupMaxSize: info.subgroupMaxSize ?? 0,
  };
  return new Gpu(device, summary, [entry, adapter], options);
}
