import { create, globals } from 'webgpu';
import { type AcquireOptions, acquireDevice as acquire, type Gpu } from '../gpu/device.js';
import { parseKernelChoice } from '../gpu/kernel-choice.js';
import { filterDawnWarnings } from './dawn-warnings.js';
import { sleepingWaiter } from './wait.js';

let entry: GPU | undefined;

/** Dawn's WebGPU entry point, created once and kept for the life of the process. */
export function dawn(): GPU {
  if (!entry) {
    // Mesa's device-select layer complains about XDG_RUNTIME_DIR when it is unset; it selects nothing we need.
    if (!process.env.XDG_RUNTIME_DIR && process.env.MESA_VK_DEVICE_SELECT === undefined) {
      process.env.NODEVICE_SELECT ??= '1';
    }
    Object.assign(globalThis, globals);
    const flags = process.env.SGLP_DAWN_FLAGS ? process.env.SGLP_DAWN_FLAGS.split(/\s+/) : [];
    const raw = create(flags) as unknown as GPU;
    // Dawn's two limit warnings are printed during the adapter request (dawn-warnings.ts).
    entry = {
      requestAdapter: (o?: GPURequestAdapterOptions) => filterDawnWarnings(() => raw.requestAdapter(o)),
      getPreferredCanvasFormat: () => raw.getPreferredCanvasFormat(),
      get wgslLanguageFeatures() {
        return raw.wgslLanguageFeatures;
      },
    } as GPU;
  }
  return entry;
}

/**
 * acquireDevice for Node: Dawn, waited on by sleeping on CPU adapters (./wait.ts), with SGLP_PROFILE=1
 * turning on per-kernel timing and printing the table on stderr when the process exits (times are complete
 * up to the last sync).
 */
export async function acquireDevice(options: AcquireOptions = {}): Promise<Gpu> {
  // Sleeping pays where the adapter's threads share our cores; a real GPU's short waits stay plain awaits.
  let onCpu = true;
  const sleeping = sleepingWaiter();
  const gpu = await acquire({
    profile: process.env.SGLP_PROFILE === '1',
    kernels: parseKernelChoice(process.env.SGLP_KERNELS, 'SGLP_KERNELS'),
    waiter: (p) => (onCpu ? sleeping(p) : p),
    ...options,
    gpu: options.gpu ?? dawn(),
  });
  onCpu = gpu.adapter.isCpu;
  const profiler = gpu.profiler;
  if (profiler && process.env.SGLP_PROFILE === '1') {
    process.once('exit', () =>
      process.stderr.write(`\nsglp kernel profile (GPU time)\n${profiler.table()}\n`),
    );
  }
  return gpu;
}
