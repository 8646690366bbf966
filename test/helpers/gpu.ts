import { afterAll } from 'vitest';
import type { Gpu } from '../../src/gpu/device.js';
import { acquireDevice } from '../../src/node/device.js';

let shared: Promise<Gpu> | undefined;

/** One device per test file, destroyed after the file's tests. */
export function useGpu(): () => Promise<Gpu> {
  afterAll(async () => {
    if (shared) (await shared).destroy();
    shared = undefined;
  });
  return () => {
    shared ??= acquireDevice();
    return shared;
  };
}
