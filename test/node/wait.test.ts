import { describe, expect, it } from 'vitest';
import type { Waiter } from '../../src/gpu/device.js';
import { sleepingWaiter } from '../../src/node/wait.js';
import { nodeWait } from '../../src/tunables.js';
import { useGpu } from '../helpers/gpu.js';

const getGpu = useGpu();

const later = <T>(ms: number, value: T, fail = false) =>
  new Promise<T>((resolve, reject) => setTimeout(() => (fail ? reject(value) : resolve(value)), ms));

/**
 * Waits like dawn.node's promises make a Node thread wait: an immediate re-queues itself until the promise
 * settles. Returns how many times it ran and the wall time.
 */
async function turnsWhileWaiting(wait: Waiter, ms: number): Promise<{ turns: number; elapsed: number }> {
  let turns = 0;
  let settled = false;
  const spin = () => {
    turns++;
    if (!settled) setImmediate(spin);
  };
  setImmediate(spin);
  const start = performance.now();
  await wait(later(ms, 0).finally(() => (settled = true)));
  return { turns, elapsed: performance.now() - start };
}

describe('sleeping waiter', () => {
  it('settles as the promise does', async () => {
    const wait = sleepingWaiter();
    await expect(wait(later(5, 42))).resolves.toBe(42);
    await expect(wait(Promise.resolve('now'))).resolves.toBe('now');
    await expect(wait(later(5, new Error('lost'), true))).rejects.toThrow('lost');
  });

  it('blocks between event-loop turns instead of letting a polling loop spin', async () => {
    const sleepMs = 1;
    const sleeping = await turnsWhileWaiting(sleepingWaiter({ spinMs: 0.1, sleepMs, fraction: 0.25 }), 60);
    const spinning = await turnsWhileWaiting((p) => p, 60);
    const bound = sleeping.elapsed / sleepMs + 100;
    expect(sleeping.turns).toBeLessThan(bound);
    expect(spinning.turns).toBeGreaterThan(2 * bound); // the polling loop alone spins far more often
  });

  it("is what Node's acquireDevice waits with on a CPU adapter, and only there", async () => {
    const gpu = await getGpu();
    const waited = await turnsWhileWaiting((p) => gpu.wait(p), 60);
    const bound = waited.elapsed / nodeWait.sleepMs + 100;
    if (gpu.adapter.isCpu) expect(waited.turns).toBeLessThan(bound);
    else expect(waited.turns).toBeGreaterThan(bound);
  });
});
