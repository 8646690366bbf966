// Ctrl-C and `kill`: SIGINT/SIGTERM become an AbortSignal the long commands check at their safe points
// (between batches, between candidates), so they stop with their staging output removed and the terminal
// as it was. A command that takes no signal, or a second signal while stopping, ends the process at once:
// the staging output is removed synchronously and the terminal restored first.
//
// Exit status 128 + signal number (130 SIGINT, 143 SIGTERM), as a shell expects of a killed process.

import { discardAllStagingSync } from './staging.js';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
export type StopSignal = (typeof SIGNALS)[number];

const EXIT_CODE: Record<StopSignal, number> = { SIGINT: 130, SIGTERM: 143 };

export interface Interrupts {
  /**
   * The signal for a command that stops at safe points; asking for it makes the first SIGINT/SIGTERM a
   * request to stop (without it, the process exits at once).
   */
  take(): AbortSignal;
  /** The signal that arrived, if one did. */
  readonly received: StopSignal | undefined;
  /** The exit status for the signal that arrived. */
  readonly exitCode: number | undefined;
  /** Stops listening. */
  dispose(): void;
}

/** Shows the cursor and turns line wrapping back on: what a live progress bar may have left off. */
export function restoreTerminal(): void {
  if (process.stderr.isTTY) process.stderr.write('\u001b[?25h\u001b[?7h');
}

/**
 * Listens for SIGINT/SIGTERM. `what` names the running command in the one line printed when a signal ends
 * the process at once (e.g. "sglp eval").
 */
export function installInterrupts(what: string): Interrupts {
  const it = listen(what);
  installed = it;
  return it;
}

let installed: Interrupts | undefined;

/**
 * The stop signal of the process's interrupts, for a command action that stops at safe points; undefined
 * where none were installed (tests call the commands directly).
 */
export function commandSignal(): AbortSignal | undefined {
  return installed?.take();
}

function listen(what: string): Interrupts {
  const controller = new AbortController();
  let graceful = false;
  let received: StopSignal | undefined;
  const onSignal = (sig: StopSignal) => {
    if (received === undefined && graceful) {
      received = sig;
      controller.abort(new StopRequest(sig));
      return;
    }
    received ??= sig;
    discardAllStagingSync();
    restoreTerminal();
    process.stderr.write(`\n${what} stopped by ${sig}; nothing was written\n`);
    process.exit(EXIT_CODE[sig]);
  };
  const handlers = SIGNALS.map((sig) => {
    const h = () => onSignal(sig);
    process.on(sig, h);
    return [sig, h] as const;
  });
  return {
    take() {
      graceful = true;
      return controller.signal;
    },
    get received() {
      return received;
    },
    get exitCode() {
      return received === undefined ? undefined : EXIT_CODE[received];
    },
    dispose() {
      for (const [sig, h] of handlers) process.off(sig, h);
    },
  };
}

/** The abort reason: which signal asked the command to stop. */
export class StopRequest extends Error {
  constructor(readonly signalName: StopSignal) {
    super(`stopped by ${signalName}`);
    this.name = 'AbortError';
  }
}
