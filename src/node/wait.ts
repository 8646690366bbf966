import type { Waiter } from '../gpu/device.js';
import { nodeWait } from '../tunables.js';

const cell = new Int32Array(new SharedArrayBuffer(4));

/** One event-loop turn: dawn.node checks the device's fences and settles promises in its immediates. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A Waiter for dawn.node that spins for `spinMs`, then sleeps between event-loop turns: a thread blocked in
 * Atomics.wait leaves its core to the adapter's threads. Each sleep is `fraction` of the time waited so far,
 * at most `sleepMs`, so a short wait overshoots little (tunables.nodeWait).
 */
export function sleepingWaiter({ spinMs, sleepMs, fraction } = nodeWait): Waiter {
  return async <T>(p: Promise<T>): Promise<T> => {
    let settled = false;
    const mark = () => {
      settled = true;
    };
    p.then(mark, mark); // also marks a rejection as handled while the loop below runs
    const start = performance.now();
    await turn();
    while (!settled) {
      const waited = performance.now() - start;
      if (waited >= spinMs) Atomics.wait(cell, 0, 0, Math.min(sleepMs, waited * fraction));
      await turn();
    }
    return p;
  };
}
