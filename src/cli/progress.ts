// Progress on stderr (stdout is for results): a live bar when stderr is a terminal, otherwise plain lines
// at most every 10% or every 10 seconds, so logs of a redirected run stay readable and short.

import cliProgress from 'cli-progress';

/** Where a command writes: tests pass their own. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Whether stderr is a terminal (a live bar) or not (plain lines). */
  readonly tty: boolean;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  tty: process.stderr.isTTY === true,
};

export interface ProgressValues {
  /** Images per second so far. */
  readonly rate?: number;
  /** Running mean loss. */
  readonly loss?: number;
}

/** One task of `total` steps (batches). */
export class Progress {
  private readonly bar: cliProgress.SingleBar | undefined;
  private readonly start = performance.now();
  private lastLine = performance.now();
  private lastDone = 0;
  private done = 0;
  private values: ProgressValues = {};

  constructor(
    private readonly io: CliIo,
    private readonly label: string,
    private readonly total: number,
    private readonly unit = 'batches',
    /** '' for a task that reports neither a rate nor a loss (the bar then shows neither). */
    private readonly rateUnit = 'img/s',
  ) {
    if (io.tty && io === processIo) {
      const values = rateUnit === '' ? '' : ` | {rate} ${rateUnit} | loss {loss}`;
      this.bar = new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: `${label} [{bar}] {value}/{total} ${unit}${values} | {duration_formatted}`,
          hideCursor: true,
          barsize: 30,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0, { rate: '-', loss: '-' });
    }
  }

  update(done: number, values: ProgressValues = {}): void {
    this.done = done;
    this.values = values;
    if (this.bar) {
      this.bar.update(done, {
        rate: values.rate === undefined ? '-' : values.rate.toFixed(1),
        loss: values.loss === undefined ? '-' : values.loss.toFixed(4),
      });
      return;
    }
    const now = performance.now();
    const step = Math.max(1, Math.ceil(this.total / 10));
    if (done < this.total && done - this.lastDone < step && now - this.lastLine < 10_000) return;
    this.lastLine = now;
    this.lastDone = done;
    this.io.stderr(this.line(done, values));
  }

  /** A plain progress line; a rate or loss never given is left out. */
  private line(done: number, v: ProgressValues): string {
    const rate = v.rate === undefined ? '' : `  ${v.rate.toFixed(1)} ${this.rateUnit}`;
    const loss = v.loss === undefined ? '' : `  loss ${v.loss.toFixed(4)}`;
    return `${this.label} ${done}/${this.total} ${this.unit}${rate}${loss}\n`;
  }

  /** Ends the bar (or prints the last line if it was not printed). */
  stop(): void {
    if (this.bar) {
      this.bar.stop();
      return;
    }
    if (this.lastDone !== this.done) {
      this.lastDone = this.total; // force
      this.io.stderr(this.line(this.done, this.values));
    }
  }

  get seconds(): number {
    return (performance.now() - this.start) / 1000;
  }
}

/** A byte count for people: 1.5 GB, 12.3 MB, 900 kB, 12 bytes (decimal units; JSON keeps the bytes). */
export function formatBytes(bytes: number): string {
  const units = ['kB', 'MB', 'GB', 'TB'];
  if (bytes < 1000) return `${bytes} bytes`;
  let v = bytes;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}
