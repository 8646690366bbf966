// Published f32 (non-tensor-core) peaks and memory bandwidths of some adapters, so that `sglp bench` can
// say what fraction of the hardware a kernel reaches. Matched on the adapter's reported strings; where
// WebGPU does not tell variants apart (H100 SXM vs PCIe) the entry says which one it assumes. Unknown
// adapters (CPU drivers such as lavapipe included: their peak is the host's, which WebGPU does not report)
// get no fraction unless the user gives --peak-gflops / --peak-gbs.

import type { Gpu } from '../gpu/device.js';

export interface AdapterPeak {
  readonly name: string;
  /** f32 FMA peak in GFLOP/s (2 FLOPs per FMA), without tensor cores. */
  readonly f32Gflops?: number | undefined;
  /** Memory bandwidth in GB/s (10^9 bytes). */
  readonly bandwidthGbs?: number | undefined;
  readonly source: string;
}

const DATASHEET = 'NVIDIA datasheet (boost clock)';

/** First match wins: more specific names first. */
const PEAKS: readonly { match: RegExp; peak: AdapterPeak }[] = [
  {
    match: /h200/i,
    peak: { name: 'NVIDIA H200 SXM', f32Gflops: 67_000, bandwidthGbs: 4_800, source: DATASHEET },
  },
  {
    match: /h100.*pcie/i,
    peak: { name: 'NVIDIA H100 PCIe', f32Gflops: 51_000, bandwidthGbs: 2_000, source: DATASHEET },
  },
  {
    match: /h100.*nvl/i,
    peak: { name: 'NVIDIA H100 NVL', f32Gflops: 60_000, bandwidthGbs: 3_900, source: DATASHEET },
  },
  {
    match: /h100/i,
    peak: { name: 'NVIDIA H100 (assumed SXM5)', f32Gflops: 67_000, bandwidthGbs: 3_350, source: DATASHEET },
  },
  {
    match: /a100.*80/i,
    peak: { name: 'NVIDIA A100 80GB', f32Gflops: 19_500, bandwidthGbs: 2_039, source: DATASHEET },
  },
  {
    match: /a100/i,
    peak: { name: 'NVIDIA A100 40GB', f32Gflops: 19_500, bandwidthGbs: 1_555, source: DATASHEET },
  },
  { match: /l40s/i, peak: { name: 'NVIDIA L40S', f32Gflops: 91_600, bandwidthGbs: 864, source: DATASHEET } },
  { match: /\bl4\b/i, peak: { name: 'NVIDIA L4', f32Gflops: 30_300, bandwidthGbs: 300, source: DATASHEET } },
  {
    match: /4090/i,
    peak: { name: 'NVIDIA GeForce RTX 4090', f32Gflops: 82_600, bandwidthGbs: 1_008, source: DATASHEET },
  },
];

/** The published peak of this adapter, or null when unknown. */
export function knownPeak(adapter: Gpu['adapter']): AdapterPeak | null {
  if (adapter.isCpu) return null;
  const text = [adapter.vendor, adapter.architecture, adapter.device, adapter.description].join(' ');
  return PEAKS.find((p) => p.match.test(text))?.peak ?? null;
}
