// Number formatting shared by the HTML page and the comparison table. Written out by hand rather than with
// Intl so that the output is the same on every runtime and locale (reports are compared byte for byte).

import { type EvalMetrics, isClassification } from '../sglp/report/schema.js';

/** The typographic minus for the page; the terminal and markdown tables pass '-'. */
export const MINUS = '\u2212';

/** 852730 → "852,730". */
export function fmtInt(n: number): string {
  const sign = n < 0 ? '-' : '';
  const digits = Math.round(Math.abs(n)).toString();
  return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A count with a unit prefix: 852730 → "0.853 M", 95849344 → "95.8 M", 4672 → "4.67 K". */
export function fmtCount(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${sig(n / 1e9, 3)} G`;
  if (a >= 1e5) return `${sig(n / 1e6, 3)} M`;
  if (a >= 1e3) return `${sig(n / 1e3, 3)} K`;
  return fmtInt(n);
}

/** x to `digits` significant digits, never in exponent notation for the ranges reports hold. */
export function sig(x: number, digits = 4): string {
  if (x === 0 || !Number.isFinite(x)) return String(x);
  const magnitude = Math.floor(Math.log10(Math.abs(x)));
  const decimals = Math.max(0, Math.min(12, digits - 1 - magnitude));
  return x.toFixed(decimals);
}

/** The relative change from `before` to `after`: "−56.4%", "+2.1%", "0%". */
export function fmtChange(before: number, after: number, minus = MINUS): string {
  if (before === 0) return after === 0 ? '0%' : 'n/a';
  const pct = ((after - before) / before) * 100;
  const text = Math.abs(pct).toFixed(1);
  if (text === '0.0') return '0%';
  return `${pct < 0 ? minus : '+'}${text}%`;
}

/** A fraction as a percentage: 0.8652 → "86.52%". */
export function fmtPercent(fraction: number, decimals = 2): string {
  return `${(fraction * 100).toFixed(decimals)}%`;
}

/** A duration: "0.38 ms", "612 ms", "8.42 s", "6 min 52 s", "1 h 02 min". */
export function fmtMs(ms: number): string {
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${sig(ms / 1000, 3)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${pad2(seconds % 60)} s`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)} h ${pad2(minutes % 60)} min`;
}

function pad2(n: number): string {
  return n.toString().padStart(2, '0');
}

export function metricName(m: EvalMetrics): 'accuracy' | 'perplexity' {
  return isClassification(m) ? 'accuracy' : 'perplexity';
}

/** The headline number of an evaluation: "86.52%" or "5.81". */
export function fmtMetric(m: EvalMetrics): string {
  return isClassification(m) ? fmtPercent(m.accuracy) : m.perplexity.toFixed(2);
}

/** The change of the headline number: accuracy in points ("−41.0 pts"), perplexity relative ("+74.2%"). */
export function fmtMetricChange(before: EvalMetrics, after: EvalMetrics, minus = MINUS): string {
  if (isClassification(before) && isClassification(after)) {
    const pts = (after.accuracy - before.accuracy) * 100;
    const text = Math.abs(pts).toFixed(1);
    return text === '0.0' ? '±0 pts' : `${pts < 0 ? minus : '+'}${text} pts`;
  }
  if (!isClassification(before) && !isClassification(after)) {
    return fmtChange(before.perplexity, after.perplexity, minus);
  }
  return 'n/a';
}
