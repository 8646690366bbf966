/**
 * Cosine learning-rate decay from `base` to 0 over `total` steps (PyTorch's CosineAnnealingLR with
 * eta_min 0, stepped per optimiser step): lr(t) = base * (1 + cos(pi * t / total)) / 2.
 */
export function cosineLr(base: number, step: number, total: number): number {
  if (total <= 0) return base;
  const t = Math.min(Math.max(step, 0), total);
  return (base * (1 + Math.cos((Math.PI * t) / total))) / 2;
}
