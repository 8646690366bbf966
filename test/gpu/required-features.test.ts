// The feature gate of test/helpers/gpu.ts: a test without its adapter feature is a reported skip with a
// reason, or a failure when SGLP_REQUIRE_FEATURES (set by .ci/run for lavapipe) lists the feature.

import { describe, expect, it } from 'vitest';
import { FEATURES, needFeature, requiredFeatures } from '../helpers/gpu.js';

/** A stand-in for vitest's context: skip() throws, as vitest's does, and records its note. */
function fakeContext() {
  const notes: (string | undefined)[] = [];
  return {
    notes,
    skip: (note?: string): never => {
      notes.push(note);
      throw new Error('skipped');
    },
  };
}

describe('requiredFeatures', () => {
  it('reads a comma list, `all`, or an empty string', () => {
    expect([...requiredFeatures('')]).toEqual([]);
    expect([...requiredFeatures(' shader-f16 , halo-conv ')]).toEqual(['shader-f16', 'halo-conv']);
    expect([...requiredFeatures('all')]).toEqual([...FEATURES]);
  });

  it('rejects an unknown name, so that a typo in CI cannot turn the gate off', () => {
    expect(() => requiredFeatures('subgroups8')).toThrow(/unknown feature "subgroups8"/);
  });
});

describe('needFeature', () => {
  it('lets the test run when the feature is there, required or not', () => {
    const ctx = fakeContext();
    needFeature(ctx, 'shader-f16', true, 'why', new Set(FEATURES));
    needFeature(ctx, 'shader-f16', true, 'why', new Set());
    expect(ctx.notes).toEqual([]);
  });

  it('skips with the feature and the reason as the note when the feature is missing and not required', () => {
    const ctx = fakeContext();
    expect(() => needFeature(ctx, 'halo-conv', false, 'needs 8 lanes', new Set(['shader-f16']))).toThrow(
      'skipped',
    );
    expect(ctx.notes).toEqual(['no halo-conv: needs 8 lanes']);
  });

  it('fails, without skipping, when the missing feature is required', () => {
    const ctx = fakeContext();
    expect(() => needFeature(ctx, 'subgroups-8', false, 'shuffle tiles', new Set(['subgroups-8']))).toThrow(
      /required feature subgroups-8 is missing \(SGLP_REQUIRE_FEATURES\): shuffle tiles/,
    );
    expect(ctx.notes).toEqual([]);
  });
});
