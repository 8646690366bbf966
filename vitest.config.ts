import { defineConfig } from 'vitest/config';

// Shaders are plain text modules, as esbuild's text loader makes them in the build.
const wgslAsText = {
  name: 'wgsl-as-text',
  transform(code: string, id: string) {
    return id.endsWith('.wgsl') ? { code: `export default ${JSON.stringify(code)};`, map: null } : undefined;
  },
};

export default defineConfig({
  plugins: [wgslAsText],
  test: {
    include: ['test/**/*.test.ts'],
    // One GPU device per worker; lavapipe already uses both cores.
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
