import { create, globals } from 'webgpu';
import { type AcquireOptions, acquireDevice as acquire, type Gpu } from '../gpu/device.js';
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
    entry = create(flags) as unknown as GPU;
  }
  return entry;
}

/**
 * acquireDevice for Node: Dawn, waited on by sleeping (./wait.ts), with SGLP_PROFILE=1 turning on
 * per-kernel timing and printing the table on stderr when the process exits (times are complete up to the
 * last sync).
 */
export async function acquireDevice(options: AcquireOptions = {}): Promise<Gpu> {
  const gpu = await acquire({
    profile: process.env.SGLP_PROFILE === '1',
    waiter: sleepingWaiter(),
    ...options,
    gpu: options.gpu ?? dawn(),
  });
  const profiler = gpu.profiler;
  if (profiler && process.env.SGLP_PROFILE === '1') {
    process.once('exit', () =>
      process.stderr.write(`\nsglp kernel profile (GPU time)\n${profiler.table()}\n`),
    );
  }
  return gpu;
}
