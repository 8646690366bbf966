import { FormatError } from '../io/errors.js';

/**
 * A model that cannot be described or pruned as asked: an unknown architecture, an input too small for the
 * network, a protected or non-existent unit to remove. The message names the model and the unit.
 */
export class ArchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchError';
  }
}

/** One thing wrong with a checkpoint, about one tensor where `key` is set. */
export interface StateDictProblem {
  readonly key?: string;
  readonly message: string;
}

/**
 * A checkpoint whose tensors do not match the architecture: missing, mis-shaped, unexpected, or holding
 * NaN/Inf. One line per problem, each naming its tensor; a FormatError so callers treat it as a bad file,
 * and a single problem reads exactly like io's own shape errors (`file: tensor "k": ...`).
 */
export class StateDictError extends FormatError {
  constructor(
    file: string,
    model: string,
    readonly problems: readonly StateDictProblem[],
  ) {
    const line = (p: StateDictProblem) =>
      p.key === undefined ? p.message : `tensor "${p.key}": ${p.message}`;
    const only = problems.length === 1 ? problems[0] : undefined;
    super(
      file,
      only
        ? only.message
        : `${problems.length} problems for ${model}:\n${problems.map((p) => `  - ${line(p)}`).join('\n')}`,
      only?.key,
    );
    this.name = 'StateDictError';
  }
}
