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

/** Adapter features some tests need; a test without its feature is skipped, with the reason, or fails. */
export const FEATURES = ['subgroups-8', 'shader-f16', 'halo-conv'] as const;
export type Feature = (typeof FEATURES)[number];

/**
 * Features this run must have (env SGLP_REQUIRE_FEATURES: a comma list of FEATURES, or `all`). .ci/run
 * sets it for lavapipe, which offers all three, so that a test that would be skipped there fails instead:
 * a broken adapter set-up or feature request must not turn kernel tests into silent passes.
 */
export function requiredFeatures(env: string | undefined = process.env.SGLP_REQUIRE_FEATURES): Set<Feature> {
  const names = (env ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.includes('all')) return new Set(FEATURES);
  for (const n of names) {
    if (!(FEATURES as readonly string[]).includes(n)) {
      throw new Error(`SGLP_REQUIRE_FEATURES: unknown feature "${n}" (known: ${FEATURES.join(', ')}, all)`);
    }
  }
  return new Set(names as Feature[]);
}

/**
 * Skips the running test (a reported skip, with `feature` and `why` as its note) when `have` is false,
 * or fails it when the run requires `feature`. Never returns early from a test: that would count as a pass.
 */
export function needFeature(
  ctx: { skip: (note?: string) => never },
  feature: Feature,
  have: boolean,
  why: string,
  required: Set<Feature> = requiredFeatures(),
): void {
  if (have) return;
  if (required.has(feature)) {
    throw new Error(`required feature ${feature} is missing (SGLP_REQUIRE_FEATURES): ${why}`);
  }
  ctx.skip(`no ${feature}: ${why}`);
}
