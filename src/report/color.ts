// Colours of the report. The heatmap uses viridis (perceptually uniform, readable in greyscale and by
// people with the common colour-vision deficiencies), interpolated between ten evenly spaced samples of
// matplotlib's map. Segments use the Okabe–Ito palette, designed to stay distinguishable for the same
// readers.

type Rgb = readonly [number, number, number];

const VIRIDIS: readonly Rgb[] = [
  [0x44, 0x01, 0x54],
  [0x48, 0x28, 0x78],
  [0x3e, 0x4a, 0x89],
  [0x31, 0x68, 0x8e],
  [0x26, 0x82, 0x8e],
  [0x1f, 0x9e, 0x89],
  [0x35, 0xb7, 0x79],
  [0x6d, 0xcd, 0x59],
  [0xb4, 0xde, 0x2c],
  [0xfd, 0xe7, 0x25],
];

/** viridis at t in [0, 1] (clamped), as #rrggbb. */
export function viridis(t: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i];
  const b = VIRIDIS[i + 1];
  return hex([0, 1, 2].map((c) => a[c] + (b[c] - a[c]) * f) as unknown as Rgb);
}

function hex(rgb: Rgb): string {
  return `#${rgb.map((c) => Math.round(c).toString(16).padStart(2, '0')).join('')}`;
}

function parse(color: string): Rgb {
  const n = Number.parseInt(color.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** Black or white, whichever reads better on `background` (#rrggbb), by WCAG relative luminance. */
export function textOn(background: string): '#000000' | '#ffffff' {
  const lin = parse(background).map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  const luminance = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  // Contrast with black is (L + 0.05) / 0.05, with white 1.05 / (L + 0.05); they are equal at L ≈ 0.179.
  return luminance > 0.179 ? '#000000' : '#ffffff';
}

/** Okabe–Ito, without its black (used for text) and yellow (too light on white). */
const SEGMENT_COLORS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00'];

/** The colour of segment `i`; cycles when there are more segments than colours. */
export function segmentColor(i: number): string {
  return SEGMENT_COLORS[i % SEGMENT_COLORS.length];
}

/** Removed units everywhere in the report; always paired with a shape (cross, hatching) besides the hue. */
export const REMOVED_COLOR = '#C0392B';
