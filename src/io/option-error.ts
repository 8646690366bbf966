// An option of a library call that is out of range or conflicts with another: the error names the options
// as the library spells them (`samples`, `gradnormBatches`, `target.remove`), and keeps how to word it, so
// that a front end can name its own controls instead (the command line: `--samples`, src/cli/flag-names.ts).

/** Words an option's name: the library's field name, a flag, a form label. */
export type NameOf = (field: string) => string;

/**
 * A bad option value. `message` names the fields; `messageWith(name)` words the same message with each
 * field named by `name`. `field` is the option at fault (the first of `fields`).
 */
export class OptionError extends RangeError {
  readonly field: string;
  readonly fields: readonly string[];

  constructor(
    fields: string | readonly string[],
    private readonly words: (name: NameOf) => string,
  ) {
    super(words((f) => f));
    this.name = 'OptionError';
    this.fields = typeof fields === 'string' ? [fields] : fields;
    this.field = this.fields[0];
  }

  /** The message with every option named by `name`. */
  messageWith(name: NameOf): string {
    return this.words(name);
  }
}

/** An integer >= 1, or an OptionError naming `field`. */
export function checkCount(field: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new OptionError(field, (n) => `${n(field)} must be an integer >= 1, got ${v}`);
  }
}
