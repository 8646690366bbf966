// `sglp selfcheck [--json]`: the kernel self-check (src/api/selfcheck.ts) on this machine's device.

import { type Check, selfcheck } from '../api/selfcheck.js';
import { acquireDevice } from '../node/device.js';

export async function selfcheckCommand(opts: { json?: boolean }): Promise<void> {
  const gpu = await acquireDevice();
  let checks: Check[];
  try {
    checks = await selfcheck(gpu);
  } finally {
    gpu.destroy();
  }
  const ok = checks.every((c) => c.ok);
  if (opts.json) process.stdout.write(`${JSON.stringify({ ok, checks })}\n`);
  else {
    for (const c of checks) {
      process.stdout.write(
        `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(28)} max rel. error ${c.maxRelError.toExponential(2)}  ${c.ms.toFixed(0)} ms\n`,
      );
    }
  }
  if (!ok) throw new Error('self-check failed: the device computed wrong results');
}
