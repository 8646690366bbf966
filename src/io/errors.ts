/**
 * A file whose bytes do not follow its format (safetensors, IDX, CIFAR, an index JSON). The message starts
 * with the file's name and, where one is involved, the tensor key, so a user knows what to fix.
 */
export class FormatError extends Error {
  constructor(
    readonly file: string,
    message: string,
    readonly key?: string,
  ) {
    super(`${file}: ${key === undefined ? '' : `tensor "${key}": `}${message}`);
    this.name = 'FormatError';
  }
}

/** A config.json that does not describe a supported model; one line per problem found. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(
      problems.length === 1
        ? `${file}: ${problems[0]}`
        : `${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

/** A `--data` spec that cannot be understood, or a data set that cannot be found. */
export class DataSpecError extends Error {
  constructor(
    readonly spec: string,
    message: string,
  ) {
    super(`data spec "${spec}": ${message}`);
    this.name = 'DataSpecError';
  }
}
