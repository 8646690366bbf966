// Mutation testing of the pure CPU core (issue 17): `npm run mutate`. Not part of `npm test` or CI: a full
// run takes tens of minutes on two cores. The score and the surviving mutants are in docs/mutation.md.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  // related: vitest runs only the test files that import the mutated module.
  vitest: { configFile: 'vitest.mutate.config.ts', related: true },
  coverageAnalysis: 'perTest',
  // The machines this runs on share their cores with GPU-on-CPU work; raise it where cores are free.
  concurrency: 1,
  // The set is kept to what one run at concurrency 1 on two shared cores finishes in about 25 minutes
  // (about 700 mutants); docs/mutation.md lists what is left out and why.
  mutate: [
    // SGLP's bookkeeping: Fisher segmentation, keep plans, candidate enumeration and counting.
    'src/sglp/segment.ts',
    'src/sglp/keep-plan.ts',
    'src/sglp/candidates.ts',
    // Architecture descriptions: layer shapes, tensors, params and MACs.
    'src/arch/layers.ts',
    // The IDX (MNIST / Fashion-MNIST) parser.
    'src/io/idx.ts',
  ],
  // Module-level mutants (constant tables) make Stryker run every test for each; the tables are checked
  // against PyTorch's numbers by test/arch, and skipping them halves the run.
  ignoreStatic: true,
  ignorePatterns: ['dist', 'web/dist', 'bench/results', 'models', '.gpu*', 'test-artifacts', 'demo-out'],
  reporters: ['clear-text', 'progress-append-only', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  // Reruns reuse the results of unchanged files and tests (reports/stryker-incremental.json).
  incremental: true,
  timeoutMS: 20_000,
  thresholds: { high: 90, low: 75, break: null },
};
