// What CIFAR ResNets and torchvision ResNets share: a stem, stages of residual blocks, a global average pool
// and one linear layer. Each architecture supplies its stem and its block; this walks the network in
// forward order, chaining shapes, and lists units, tensors, params and MACs from one pass.

import { type Totals, totals, unit } from './assemble.js';
import { linear, poolOutput, Tally } from './layers.js';
import type { ConvBn, MaxPool2dSpec, ResidualBlockSpec, ResnetNet, Shape3, UnitSpec } from './types.js';

/** The layers of one block; its input and output shapes are worked out here. */
export type BlockLayers = Pick<ResidualBlockSpec, 'kind' | 'body' | 'shortcut'>;

export interface ResidualPlan {
  readonly input: Shape3;
  readonly numClasses: number;
  readonly stem: ConvBn & { readonly pool?: MaxPool2dSpec };
  /** Per stage: output width of its blocks' 3x3 convs (`planes`), stride of its first block, block count. */
  readonly stages: readonly { readonly planes: number; readonly stride: number; readonly blocks: number }[];
  /** Makes block `name` of a stage; `stride` is the stage's for its first block and 1 for the others. */
  block(name: string, inChannels: number, planes: number, stride: number): BlockLayers;
  /** State-dict prefix of the final linear layer: `linear` (CIFAR code) or `fc` (torchvision). */
  readonly fcName: string;
}

export interface ResidualModel extends Totals {
  readonly net: ResnetNet;
  readonly units: UnitSpec[];
}

export function buildResidual(plan: ResidualPlan): ResidualModel {
  const units: UnitSpec[] = [];
  const tallies: Tally[] = [];
  const stem = new Tally();
  tallies.push(stem);
  const stemOut = stem.convBn(plan.stem, plan.input);
  const { pool } = plan.stem;
  units.push(
    unit(units.length, plan.stem.conv.name, 'stem', 0, plan.input, stemOut, stem, {
      reason: `the stem: nothing else turns the ${plan.input[0]}-channel input into ${stemOut[0]} channels`,
    }),
  );
  let shape = pool ? poolOutput(pool, stemOut, `${plan.stem.conv.name} max pool`) : stemOut;

  const stages: ResidualBlockSpec[][] = [];
  plan.stages.forEach((stage, s) => {
    const blocks: ResidualBlockSpec[] = [];
    for (let b = 0; b < stage.blocks; b++) {
      const name = `layer${s + 1}.${b}`;
      const layers = plan.block(name, shape[0], stage.planes, b === 0 ? stage.stride : 1);
      const tally = new Tally();
      tallies.push(tally);
      const output = walkBlock(name, layers, shape, tally);
      const changes = shapeChanges(shape, output);
      blocks.push({ name, unit: units.length, ...layers, input: shape, output });
      units.push(
        unit(units.length, name, 'block', s + 1, shape, output, tally, {
          reason: changes && `the first block of stage ${s + 1} changes ${changes}`,
        }),
      );
      shape = output;
    }
    stages.push(blocks);
  });

  // Global average pooling leaves one value per channel.
  const fc = linear(plan.fcName, shape[0], plan.numClasses);
  const head = new Tally();
  head.linear(fc);
  return { net: { family: 'resnet', stem: plan.stem, stages, fc }, units, ...totals([...tallies, head]) };
}

/** Runs the body and shortcut's shapes; a shortcut that does not meet the body is a bug in the plan. */
function walkBlock(name: string, layers: BlockLayers, input: Shape3, tally: Tally): Shape3 {
  let out = input;
  for (const layer of layers.body) out = tally.convBn(layer, out);
  const sc = layers.shortcut;
  let short: Shape3;
  if (sc.kind === 'identity') short = input;
  else if (sc.kind === 'projection') {
    short = tally.convBn(sc, input);
  } else {
    const sub = (n: number) => Math.ceil(n / sc.stride); // x[:, :, ::s, ::s]
    short = [sc.padBefore + input[0] + sc.padAfter, sub(input[1]), sub(input[2])];
  }
  if (short.some((d, i) => d !== out[i])) {
    throw new Error(`${name}: shortcut gives [${short.join(', ')}], the body [${out.join(', ')}]`);
  }
  return out;
}

/** `size 32x32→16x16 and width 16→32`, or undefined when the block keeps its input's shape. */
function shapeChanges(a: Shape3, b: Shape3): string | undefined {
  const parts: string[] = [];
  if (a[1] !== b[1] || a[2] !== b[2]) parts.push(`size ${a[1]}x${a[2]}→${b[1]}x${b[2]}`);
  if (a[0] !== b[0]) parts.push(`width ${a[0]}→${b[0]}`);
  return parts.length > 0 ? parts.join(' and ') : undefined;
}
