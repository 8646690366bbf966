import { Command, Option } from 'commander';
import { DEFAULT_SEQ_LEN } from '../io/text-data.js';
import { isFsError, plainFsError } from '../node/files.js';
import { commandSignal, installInterrupts, restoreTerminal } from '../node/signals.js';
import { MAX_EXHAUSTIVE } from '../sglp/candidates.js';
import { SAVE_DTYPES } from '../sglp/export.js';
import { SGLP_DEFAULTS } from '../sglp/families/image/prune.js';
import { SGLP_TEXT_DEFAULTS } from '../sglp/families/lm/prune.js';
import { METHODS, SCORES } from '../sglp/report/schema.js';
import { FINETUNE_DEFAULTS } from '../train/finetune.js';
import { lmFinetune } from '../tunables.js';
import { registerBench } from './bench.js';
import { registerCka } from './cka.js';
import { intAtLeast, nonNegative, positive } from './common.js';
import { registerCompare } from './compare.js';
import { demoCommand } from './demo.js';
import { EVAL_DEFAULT_BATCH, evalCommand } from './eval.js';
import { TEXT_EVAL_DEFAULT_BATCH } from './eval-text.js';
import { infoCommand } from './info.js';
import { precisionOption } from './precision.js';
import { PreflightError } from './preflight.js';
import { pruneCommand } from './prune.js';
import { selfcheckCommand } from './selfcheck.js';
import { DEFAULT_DEPTH, TRAIN_DEFAULTS, trainCommand } from './train.js';
import { lmTrainOptions, registerLmTrainOptions, trainLmCommand } from './train-lm.js';

// Ctrl-C / kill: long commands stop at their next safe point, others at once (src/node/signals.ts).
const commandName = process.argv.slice(2).find((a) => !a.startsWith('-'));
const interrupts = installInterrupts(`sglp${commandName ? ` ${commandName}` : ''}`);

const program = new Command()
  .name('sglp')
  .description('Similarity Guided Layer Partition pruning on hand-written WebGPU kernels')
  .version('0.1.0')
  .showHelpAfterError('(see sglp --help)');

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
  .command('eval')
  .description(
    'accuracy and mean cross-entropy of a model directory on a data set: {accuracy, loss, samples}; ' +
      'for text:FILE and a language model, {perplexity, nll, tokens}',
  )
  .argument('<MODEL>', 'model directory (config.json + model.safetensors)')
  .requiredOption(
    '--data <SPEC>',
    'data set: fashion-mnist[:DIR], mnist:DIR, cifar10:DIR, cifar100:DIR or text:FILE',
  )
  .addOption(new Option('--split <SPLIT>', 'which split').choices(['test', 'train']).default('test'))
  .option('--limit <N>', 'evaluate only the first N samples (text: windows)', intAtLeast(1))
  .option(
    '--batch <B>',
    `images (text: windows) per forward pass (default: ${EVAL_DEFAULT_BATCH}; text: ${TEXT_EVAL_DEFAULT_BATCH})`,
    intAtLeast(1),
  )
  .option('--seq-len <T>', `text: tokens per window (default: ${DEFAULT_SEQ_LEN})`, intAtLeast(2))
  .addOption(precisionOption())
  .addOption(new Option('--json', 'print one JSON object on stdout'))
  .action(async (model: string, opts) => {
    await evalCommand(model, opts);
  });

program
  .command('prune')
  .description(
    'SGLP layer pruning of a model directory: CKA, Fisher segmentation, a score inside each segment, ' +
      'batch-norm recalibration; writes the pruned ' +
      'model, sglp-report.json and report.html to --out',
  )
  .argument('<MODEL>', 'model directory (config.json + model.safetensors); only read')
  .requiredOption(
    '--data <SPEC>',
    'required: data set: fashion-mnist[:DIR], mnist:DIR, cifar10:DIR, cifar100:DIR, or text:FILE for a language model',
  )
  // 0 is parsed so the pre-flight can say why it is refused (nothing to do) instead of a bare range error.
  .option('--remove <R>', 'remove R >= 1 units (apportioned over the segments)', intAtLeast(0))
  .option('--keep-per-segment <A,B,...>', 'units each segment keeps, protected ones included')
  .option('--segments <K>', 'K segments instead of the elbow rule', intAtLeast(1))
  .addOption(
    new Option(
      '--score <S>',
      'SGLP inside each segment: similarity (block influence, no search), loss (forward-only search) or ' +
        `gradnorm (the paper's search) (default: images ${SGLP_DEFAULTS.score}, text ${SGLP_TEXT_DEFAULTS.score})`,
    ).choices([...SCORES]),
  )
  .addOption(
    new Option(
      '--select <WHICH>',
      "--score gradnorm: candidate kept, min (least disturbed; default) or max (the authors' code)",
    ).choices(['min', 'max']),
  )
  .option(
    '--recalibrate <N>',
    `images: re-estimate batch-norm statistics of the pruned model on the first N train images (default ${SGLP_DEFAULTS.recalibrate}; 0: off)`,
    intAtLeast(0),
  )
  // No commander defaults here: images and text have different ones (families/image/defaults.ts, families/lm/defaults.ts).
  .option(
    '--samples <N>',
    `calibration samples, first N of the train split (default ${SGLP_DEFAULTS.samples}; text: ${SGLP_TEXT_DEFAULTS.samples} windows)`,
    intAtLeast(1),
  )
  .option(
    '--batch <B>',
    `calibration batch size (default ${SGLP_DEFAULTS.batch}; text: ${SGLP_TEXT_DEFAULTS.batch} windows)`,
    intAtLeast(1),
  )
  .option(
    '--gradnorm-batches <G>',
    `GradNorm batches (default ${SGLP_DEFAULTS.gradnormBatches})`,
    intAtLeast(1),
  )
  .option(
    '--gradnorm-batch-size <S>',
    `GradNorm batch size (default ${SGLP_DEFAULTS.gradnormBatchSize}; text: ${SGLP_TEXT_DEFAULTS.gradnormBatchSize} windows)`,
    intAtLeast(1),
  )
  .option('--seq-len <T>', `text: tokens per window (default: ${DEFAULT_SEQ_LEN})`, intAtLeast(2))
  .addOption(precisionOption())
  .option(
    '--stream',
    'text: one decoder layer on the device at a time, read from the checkpoint when needed (calibration, ' +
      'GradNorm by recomputation, perplexity, export), for models larger than device memory',
  )
  .option(
    '--memory-cap <BYTES>',
    'text: fail any allocation that takes device memory past BYTES',
    intAtLeast(1),
  )
  .option(
    '--max-exhaustive <N>',
    'search a segment exhaustively up to N candidates, greedily above',
    intAtLeast(1),
    MAX_EXHAUSTIVE,
  )
  .option(
    '--eval-limit <N>',
    'evaluate before/after on the first N test samples (text: windows) only',
    intAtLeast(1),
  )
  .addOption(
    new Option('--method <M>', 'SGLP or a baseline (baselines take --remove)')
      .choices([...METHODS])
      .default('sglp'),
  )
  .option('--seed <S>', 'seed of the random baseline and of re-initialised VGG convs', intAtLeast(0), 0)
  .option(
    '--finetune-epochs <E>',
    'fine-tune the pruned model for E epochs (images: SGD momentum ' +
      `${FINETUNE_DEFAULTS.momentum}, lr ${FINETUNE_DEFAULTS.lr} cosine, weight decay ${FINETUNE_DEFAULTS.weightDecay}, batch ${FINETUNE_DEFAULTS.batchSize}; ` +
      `text: AdamW, lr ${lmFinetune.lr} warmup + cosine, weight decay ${lmFinetune.weightDecay}, batch ${lmFinetune.batch} windows), then evaluate it again`,
    intAtLeast(0),
  )
  .option(
    '--finetune-samples <N>',
    'fine-tune on the first N train samples (text: windows) only (default: all)',
    intAtLeast(1),
  )
  .option(
    '--finetune-lr <R>',
    `fine-tuning learning rate (default: images ${FINETUNE_DEFAULTS.lr}, text ${lmFinetune.lr}; a run of a few dozen steps wants less)`,
    positive,
  )
  .addOption(
    new Option(
      '--save-dtype <DTYPE>',
      'dtype of the written tensors: auto = each tensor in its input dtype (image models: F32), or f32, f16, bf16 (text)',
    )
      .choices([...SAVE_DTYPES])
      .default('auto'),
  )
  .requiredOption(
    '--out <DIR>',
    'required: output directory for the pruned model and the report (new or empty; written all at once)',
  )
  .addOption(new Option('--json', 'print the report as one JSON object on stdout'))
  .action(async (model: string, opts) => {
    await pruneCommand(model, opts, { signal: commandSignal() });
  });

registerCka(program);
registerBench(program);
registerCompare(program);

program
  .command('train')
  .description(
    'train a base model (SGD + momentum, weight decay, cosine LR per step), checkpointing DIR after every epoch',
  )
  .requiredOption(
    '--arch <NAME>',
    'architecture: cifar-resnet, vgg (CIFAR VGG-BN), resnet (torchvision), llama',
  )
  .option(
    '--depth <N>',
    `cifar-resnet: 20, 32, 44, 56 or 110 (default ${DEFAULT_DEPTH['cifar-resnet']}); vgg: 11, 13, 16 or 19 ` +
      `(default ${DEFAULT_DEPTH.vgg}); resnet: 18, 34 or 50 (default ${DEFAULT_DEPTH.resnet})`,
    intAtLeast(1),
  )
  .option('--in-channels <N>', "input channels (default: the data set's)", intAtLeast(1))
  .option('--num-classes <N>', "classes (default: the data set's)", intAtLeast(1))
  .addOption(
    new Option(
      '--shortcut <KIND>',
      `cifar-resnet: A zero-padding shortcut, B 1x1 conv + BN (default ${TRAIN_DEFAULTS.shortcut})`,
    ).choices(['A', 'B']),
  )
  .option(
    '--blocks <COUNTS>',
    'residual blocks per stage, fewer than --depth gives (small models): A,B,C for cifar-resnet, A,B,C,D for resnet',
  )
  .requiredOption(
    '--data <SPEC>',
    'data set: fashion-mnist[:DIR], mnist:DIR, cifar10:DIR, cifar100:DIR (llama: text:FILE)',
  )
  .requiredOption('--epochs <E>', 'epochs to train', intAtLeast(1))
  .requiredOption('--out <DIR>', 'output model directory (new or empty, or the run to --resume)')
  .option('--batch <B>', 'images per step', intAtLeast(1), TRAIN_DEFAULTS.batch)
  .option('--lr <LR>', 'peak learning rate (cosine decay to 0 over all steps)', positive, TRAIN_DEFAULTS.lr)
  .option('--momentum <M>', 'SGD momentum', nonNegative, TRAIN_DEFAULTS.momentum)
  .option(
    '--weight-decay <WD>',
    'L2 weight decay (all weights and biases)',
    nonNegative,
    TRAIN_DEFAULTS.weightDecay,
  )
  .option(
    '--seed <S>',
    'seed of the initial weights, shuffling and augmentation',
    intAtLeast(0),
    TRAIN_DEFAULTS.seed,
  )
  .option('--augment', 'random crop (pad 4) and horizontal flip (default)')
  .option('--no-augment', 'no augmentation')
  .option('--resume', 'continue the run in --out from its last completed epoch (same flags)')
  .option('--limit <N>', 'use only the first N training and N test images (smoke tests)', intAtLeast(1))
  .addOption(new Option('--json', 'print one JSON object on stdout'))
  .action(async (opts, cmd) => {
    const lm = lmTrainOptions(opts, cmd);
    const signal = commandSignal();
    if (lm) await trainLmCommand(lm, { signal });
    // --layers is shared with llama's layer count: for vgg it is the layer list, as text.
    else
      await trainCommand(
        { ...opts, layers: opts.layers === undefined ? undefined : String(opts.layers) },
        { signal },
      );
  });
registerLmTrainOptions(program);

program
  .command('demo')
  .description('the main job: device check, then SGLP-prune the bundled ResNet-56 (reduced protocol)')
  .option('--model <DIR>', 'model directory', 'models/fmnist-resnet56')
  .option('--out <DIR>', 'output directory (default: demo-out/<date-time>)')
  .action(async (opts: { model: string; out?: string }) => {
    const out = opts.out ?? `demo-out/${new Date().toISOString().replace(/[:.]/g, '-')}`;
    await demoCommand({ model: opts.model, out, signal: commandSignal() });
  });

// A usage error is one line and a pointer to the command's help, not the whole help.
for (const cmd of program.commands) cmd.showHelpAfterError(`(see sglp ${cmd.name()} --help)`);

try {
  await program.parseAsync();
} catch (e) {
  restoreTerminal();
  if (interrupts.received !== undefined) {
    // A stop request reached a safe point: the command removed its staging output on the way out.
    const kept =
      commandName === 'train'
        ? 'the checkpoint of the last completed epoch is kept (--resume continues)'
        : 'nothing was written';
    process.stderr.write(
      `sglp${commandName ? ` ${commandName}` : ''} stopped by ${interrupts.received}; ${kept}\n`,
    );
    process.exitCode = interrupts.exitCode;
  } else {
    // File-system errors in plain words (never errno text); a pre-flight problem points at the help.
    const raw = isFsError(e) && (e as NodeJS.ErrnoException).syscall !== undefined;
    const err = raw ? plainFsError(e, (e as NodeJS.ErrnoException).path ?? 'a file') : (e as Error);
    const usage = e instanceof PreflightError || /(^|\s)--[a-z]/.test(err.message);
    const hint = usage && commandName ? `\n(see sglp ${commandName} --help)` : '';
    process.stderr.write(`sglp: ${err.message}${hint}\n`);
    process.exitCode = 1;
  }
}
restoreTerminal();
// Dawn keeps handles open; exit explicitly once the command is done.
process.exit();
