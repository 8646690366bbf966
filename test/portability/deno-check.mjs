// Runs the portability case in Deno (navigator.gpu from --unstable-webgpu) and prints the results as
// one line of JSON on stdout; portability.test.ts checks them. By hand, from the repository root:
//   node_modules/.bin/deno run --unstable-webgpu --no-prompt test/portability/deno-check.mjs
import * as lib from '../../dist/index.js';
import { runCase } from './case.mjs';

const results = await runCase(lib);
console.log(JSON.stringify(results));
