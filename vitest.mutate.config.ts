import { defineConfig } from 'vitest/config';

// The CPU-only tests that cover the modules `npm run mutate` mutates (stryker.config.mjs): no GPU, no
// browser, no data set, so that each mutant runs in well under a second. `npm test` does not use this file.
export default defineConfig({
  test: {
    include: [
      'test/sglp/segment.test.ts',
      'test/sglp/keep-plan.test.ts',
      'test/sglp/candidates.test.ts',
      'test/sglp/*-edges.test.ts',
      'test/arch/*.test.ts',
      'test/io/idx.test.ts',
      'test/io/idx-edges.test.ts',
      'test/io/cifar.test.ts',
      'test/io/data-spec.test.ts',
      'test/io/half.test.ts',
      'test/io/safetensors.test.ts',
      'test/io/safetensors-malformed.test.ts',
      'test/report/schema.test.ts',
    ],
    testTimeout: 60_000,
  },
});
