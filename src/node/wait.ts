import type { Waiter } from '../gpu/device.js';
import { nodeWait } from '../tunables.js';

const cell = new Int32Array(new SharedArrayBuffer(4));

/** One event-loop turn: dawn.node checks the device's fences and settles promises in its immediates. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A Waiter for dawn.node that spins for `spinMs`, then sleeps `sleepMs` at a time between event-loop
 * turns: a thread blocked in Atomics.wait leaves its core to the adapter's threads (tunables.nodeWait).
 */
export function sleepingWaiter({ spinMs, sleepMs } = nodeWait): Waiter {
  return async <T>(p: Promise<T>): Promise<T> => {
    let settled = false;
    const mark = () => {
      settled = true;
    };
    p.then(mark, mark); // also marks a rejection as handled while the loop below runs
    const start = performance.now();
    await turn();
    while (!settled) {
      if (performance.now() - start >= spinMs) Atomics.wait(cell, 0, 0, sleepMs);
      await turn();
    }
    return p;
  };
}
