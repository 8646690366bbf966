// How a training run's errors name its options: the library says `epochs`, `sglp train` says `--epochs`
// (the CLI passes its Naming), so that one check serves both.

/** How errors name the options: the library's field names, or the CLI's flags. */
export interface Naming {
  /** `epochs` → `epochs` (library) or `--epochs` (CLI). */
  readonly of: (field: string) => string;
  /** What the options are called together: "options" or "flags". */
  readonly kind: 'options' | 'flags';
}

export const OPTION_NAMES: Naming = { of: (field) => field, kind: 'options' };

/** `value` as an integer >= min, or an error naming the option. */
export function intOption(value: number, field: string, min: number, naming: Naming): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new Error(`${naming.of(field)} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

/** `value` as a finite number > 0 (or >= 0), or an error naming the option. */
export function numberOption(value: number, field: string, zero: boolean, naming: Naming): number {
  if (!(Number.isFinite(value) && (zero ? value >= 0 : value > 0))) {
    throw new Error(`${naming.of(field)} must be a number ${zero ? '>=' : '>'} 0, got ${value}`);
  }
  return value;
}
