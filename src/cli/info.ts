import { OPTIONAL_FEATURES } from '../gpu/device.js';
import { acquireDevice } from '../node/device.js';

const LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

export async function infoCommand(opts: { json?: boolean }): Promise<void> {
  const gpu = await acquireDevice();
  try {
    const limits = Object.fromEntries(LIMITS.map((k) => [k, gpu.limits[k]]));
    const features = OPTIONAL_FEATURES.filter((f) => gpu.features.has(f));
    const info = { adapter: gpu.adapter, features, limits };
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(info)}\n`);
      return;
    }
    const a = gpu.adapter;
    const lines = [
      `adapter   ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ')}${a.isCpu ? ' (CPU)' : ''}`,
      `features  ${features.join(', ') || 'none of the optional ones'}`,
      ...LIMITS.map((k) => `${k.padEnd(36)} ${limits[k]}`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    gpu.destroy();
  }
}
