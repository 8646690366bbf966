// config.json schemas of the CNNs (DESIGN.md, "Model directory"). Besides the fields of an original model,
// a pruned one may say how many residual blocks each stage keeps (`blocks`) or which convs a VGG keeps
// (`layers`); when absent they follow from `depth`, and the parsed config always carries them.

import * as z from 'zod';

export const CIFAR_RESNET_DEPTHS = [20, 32, 44, 56, 110] as const;
export const RESNET_DEPTHS = [18, 34, 50, 101] as const;
export const VGG_DEPTHS = [11, 13, 16, 19] as const;

/** torchvision's blocks per stage. */
const RESNET_BLOCKS: Record<(typeof RESNET_DEPTHS)[number], number[]> = {
  18: [2, 2, 2, 2],
  34: [3, 4, 6, 3],
  50: [3, 4, 6, 3],
  101: [3, 4, 23, 3],
};

/** The CIFAR VGG layer lists: conv output widths, 'M' for a 2x2 max pool. */
const VGG_LAYERS: Record<(typeof VGG_DEPTHS)[number], (number | 'M')[]> = {
  11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
  19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M'],
};

const positiveInt = z.number().int().positive();

const common = {
  in_channels: positiveInt,
  num_classes: positiveInt,
  /** [channels, height, width] of one input image. */
  input_size: z.tuple([positiveInt, positiveInt, positiveInt]),
  /** Per-channel mean and std applied after scaling pixels to [0, 1]. */
  normalize: z.object({
    mean: z.array(z.number()).min(1),
    std: z.array(z.number().positive()).min(1),
  }),
};

type Common = z.infer<z.ZodObject<typeof common>>;

/** Checks shared by all CNNs: the input shape and normalisation agree with in_channels. */
function checkCommon(c: Common, ctx: z.RefinementCtx): void {
  if (c.input_size[0] !== c.in_channels) {
    ctx.addIssue({
      code: 'custom',
      path: ['input_size', 0],
      message: `is ${c.input_size[0]}, but in_channels is ${c.in_channels}`,
    });
  }
  for (const key of ['mean', 'std'] as const) {
    if (c.normalize[key].length !== c.in_channels) {
      const n = c.normalize[key].length;
      ctx.addIssue({
        code: 'custom',
        path: ['normalize', key],
        message: `has ${n} value${n === 1 ? '' : 's'}, expected one per input channel (${c.in_channels})`,
      });
    }
  }
}

/**
 * A pruned stage keeps at most the original's blocks; a stage whose first block changes stride or width
 * (`protectedHeads[i]`) keeps at least that block, since removing it would change tensor shapes.
 */
function checkBlocks(
  blocks: number[],
  full: number[],
  protectedHeads: boolean[],
  ctx: z.RefinementCtx,
): void {
  blocks.forEach((b, i) => {
    if (b > full[i]) {
      ctx.addIssue({
        code: 'custom',
        path: ['blocks', i],
        message: `is ${b}, more than the ${full[i]} of this depth`,
      });
    } else if (b < 1 && protectedHeads[i]) {
      ctx.addIssue({
        code: 'custom',
        path: ['blocks', i],
        message: 'must be at least 1: the first block of this stage changes shape',
      });
    }
  });
}

export const cifarResnetSchema = z
  .object({
    architecture: z.literal('cifar-resnet'),
    depth: z.literal(CIFAR_RESNET_DEPTHS),
    /** A: stride-2 subsample + zero channel padding; B: 1x1 conv + BN. */
    shortcut: z.enum(['A', 'B']),
    blocks: z.array(z.number().int().nonnegative()).length(3).optional(),
    ...common,
  })
  .superRefine((c, ctx) => {
    checkCommon(c, ctx);
    if (c.blocks) checkBlocks(c.blocks, cifarBlocks(c.depth), [false, true, true], ctx);
  })
  .transform((c) => ({ kind: 'cnn' as const, ...c, blocks: c.blocks ?? cifarBlocks(c.depth) }));

function cifarBlocks(depth: number): number[] {
  const n = (depth - 2) / 6;
  return [n, n, n];
}

export const resnetSchema = z
  .object({
    architecture: z.literal('resnet'),
    depth: z.literal(RESNET_DEPTHS),
    blocks: z.array(z.number().int().nonnegative()).length(4).optional(),
    ...common,
  })
  .superRefine((c, ctx) => {
    checkCommon(c, ctx);
    // Bottleneck ResNets widen 64 -> 256 in layer1.0; every later stage starts with a stride-2 block.
    if (c.blocks) checkBlocks(c.blocks, RESNET_BLOCKS[c.depth], [c.depth >= 50, true, true, true], ctx);
  })
  .transform((c) => ({ kind: 'cnn' as const, ...c, blocks: c.blocks ?? [...RESNET_BLOCKS[c.depth]] }));

export const vggSchema = z
  .object({
    architecture: z.literal('vgg'),
    depth: z.literal(VGG_DEPTHS),
    /** Only the batch-norm variant is supported; absent means true. */
    batch_norm: z.literal(true).optional(),
    layers: z
      .array(z.union([positiveInt, z.literal('M')]))
      .min(1)
      .optional(),
    ...common,
  })
  .superRefine((c, ctx) => {
    checkCommon(c, ctx);
    if (!c.layers) return;
    const full = VGG_LAYERS[c.depth];
    const convs = (l: (number | 'M')[]) => l.filter((x) => x !== 'M').length;
    const pools = (l: (number | 'M')[]) => l.filter((x) => x === 'M').length;
    if (convs(c.layers) > convs(full) || convs(c.layers) < 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['layers'],
        message: `has ${convs(c.layers)} convs, expected 1 to ${convs(full)} for VGG-${c.depth}`,
      });
    }
    if (pools(c.layers) !== pools(full)) {
      ctx.addIssue({
        code: 'custom',
        path: ['layers'],
        message: `has ${pools(c.layers)} "M" pools, expected ${pools(full)}`,
      });
    }
  })
  .transform((c) => ({
    kind: 'cnn' as const,
    ...c,
    batch_norm: true as const,
    layers: c.layers ?? [...VGG_LAYERS[c.depth]],
  }));

export type CifarResnetConfig = z.output<typeof cifarResnetSchema>;
export type ResnetConfig = z.output<typeof resnetSchema>;
export type VggConfig = z.output<typeof vggSchema>;
export type CnnConfig = CifarResnetConfig | ResnetConfig | VggConfig;
