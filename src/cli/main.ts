import { Command, Option } from 'commander';
import { infoCommand } from './info.js';
import { selfcheckCommand } from './selfcheck.js';

const program = new Command()
  .name('sglp')
  .description('Similarity Guided Layer Partition pruning on hand-written WebGPU kernels')
  .version('0.1.0')
  .showHelpAfterError();

program
  .command('info')
  .description('adapter, limits and features of the WebGPU device')
  .addOption(new Option('--json', 'print one JSON object on stdout'))
  .action(infoCommand);

program
  .command('selfcheck')
  .description('run GEMM and reduction kernels on the device and check them against the CPU')
  .addOption(new Option('--json', 'print one JSON object on stdout'))
  .action(selfcheckCommand);

program
  .command('demo')
  .description('the main job: device info and a kernel self-check (the demo prune comes with the CNN engine)')
  .action(async () => {
    await infoCommand({});
    await selfcheckCommand({});
  });

try {
  await program.parseAsync();
} catch (e) {
  process.stderr.write(`sglp: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
// Dawn keeps handles open; exit explicitly once the command is done.
process.exit();
