// Bundles the library (browser/Deno/Node), the Node entry and the CLI; shaders are inlined as strings.
import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { build } from 'esbuild';

const common = {
  bundle: true,
  format: 'esm',
  target: 'es2022',
  sourcemap: true,
  loader: { '.wgsl': 'text' },
  logLevel: 'warning',
};

try {
  await Promise.all([
    build({ ...common, platform: 'neutral', entryPoints: ['src/index.ts'], outfile: 'dist/index.js' }),
    build({
      ...common,
      platform: 'node',
      packages: 'external',
      entryPoints: {
        node: 'src/node/index.ts',
        cli: 'src/cli/main.ts',
        bench: 'bench/run.ts',
        'bench-attention': 'bench/attention.ts',
        'bench-selection': 'bench/selection/run.ts',
        'bench-finetune-lm': 'bench/selection/finetune-lm.ts',
        'gen-shapes': 'bench/gen-shapes.ts',
        'stream-shapes': 'bench/stream-shapes.ts',
        'cost-model': 'bench/cost-model.ts',
      },
      outdir: 'dist',
      banner: { js: '#!/usr/bin/env node' },
    }),
  ]);
  chmodSync('dist/cli.js', 0o755);
  if (!process.argv.includes('--no-types')) {
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'], { stdio: 'inherit' });
  }
} catch {
  // esbuild and tsc have already printed the errors.
  process.exit(1);
}
