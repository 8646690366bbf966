// CIFAR VGG with batch norm. `features` is numbered exactly as PyTorch's `make_layers(cfg, batch_norm=True)`
// numbers its Sequential: a conv (3x3, padding 1, with bias) at N, its BN at N+1, ReLU at N+2, and a 2x2/2
// max pool at the next single index. The classifier flattens C·H·W (512 for a 32x32 input, after five pools)
// and comes in the variants CIFAR code uses, chosen by `DescribeOptions.vggClassifier` since config.json
// cannot say (io's schema has no field for it); `inferVggClassifier` reads it off a checkpoint's keys.
//   'linear'      (default) nn.Sequential(nn.Linear(F, classes)): `classifier.0`
//   'bare-linear' nn.Linear(F, classes) as kuangliu/pytorch-cifar and network-slimming write it: `classifier`
//   'dropout-mlp' chengyangfu/pytorch-vgg-cifar10: Dropout, Linear(F, 512), ReLU, Dropout, Linear(512, 512),
//                 ReLU, Linear(512, classes): `classifier.1`, `classifier.4`, `classifier.6`
// Protected units: none in the standard configs. A removed conv's successor is re-initialised when its input
// width changes (docs/method.md §0), so only the last conv can break shapes: the classifier stays, so the last conv
// is protected when its input width differs from its output width (possible in an already pruned model).
// No conv is treated as a stem: §0 lists VGG's units without one.

import type { VggConfig } from '../io/config.js';
import { type Totals, totals, unit } from './assemble.js';
import { ArchError } from './errors.js';
import { convBn, linear, maxPool2d, poolOutput, Tally } from './layers.js';
import type {
  ClassifierLayer,
  ModelDescription,
  Shape3,
  UnitSpec,
  VggClassifier,
  VggFeature,
  VggNet,
} from './types.js';

export const VGG_CLASSIFIERS: readonly VggClassifier[] = ['linear', 'bare-linear', 'dropout-mlp'];

export function describeVgg(config: VggConfig, classifierKind: VggClassifier = 'linear'): ModelDescription {
  const name = `VGG-${config.depth}-BN`;
  const features: VggFeature[] = [];
  const units: UnitSpec[] = [];
  const tallies: Tally[] = [];
  let shape: Shape3 = config.input_size;
  let index = 0;
  let stage = 1;
  for (const entry of config.layers) {
    if (entry === 'M') {
      const pool = maxPool2d(2, 2);
      const [, h, w] = config.input_size;
      const output = poolOutput(pool, shape, `${name} with a ${h}x${w} input: max pool features.${index}`);
      features.push({ kind: 'pool', index, pool, input: shape, output });
      shape = output;
      index += 1;
      stage += 1;
      continue;
    }
    const layer = convBn(`features.${index}`, `features.${index + 1}`, shape[0], entry, 3, 1, 1, true);
    const tally = new Tally();
    const output = tally.convBn(layer, shape);
    tallies.push(tally);
    features.push({ kind: 'conv', index, unit: units.length, ...layer, input: shape, output });
    units.push(
      unit(units.length, layer.conv.name, 'conv', stage, shape, output, tally, { reason: undefined }),
    );
    shape = output;
    index += 3;
  }
  protectLast(units);

  const head = new Tally();
  const classifier = makeClassifier(classifierKind, shape[0] * shape[1] * shape[2], config.num_classes);
  for (const layer of classifier) if (layer.op === 'linear') head.linear(layer);
  const net: VggNet = { family: 'vgg', features, classifierKind, classifier };
  const t: Totals = totals([...tallies, head]);
  const pruned = config.layers.length !== fullLength(config.depth);
  return {
    architecture: 'vgg',
    name: pruned ? `${name} [${units.length} convs]` : name,
    config,
    input: config.input_size,
    numClasses: config.num_classes,
    stem: undefined,
    units,
    net,
    ...t,
  };
}

/** The unpruned layer list's length: VGG's depth counts 3 fully connected layers besides the convs; 5 pools. */
function fullLength(depth: VggConfig['depth']): number {
  return depth - 3 + 5;
}

/** The classifier takes the last conv's width; removing a last conv that changes width would change it. */
function protectLast(units: UnitSpec[]): void {
  const last = units[units.length - 1];
  if (last.input[0] === last.output[0]) return;
  units[units.length - 1] = {
    ...last,
    protected: true,
    protectedReason: `the last conv: the classifier takes its ${last.output[0]} channels, its input has ${last.input[0]}`,
  };
}

function makeClassifier(kind: VggClassifier, features: number, classes: number): ClassifierLayer[] {
  switch (kind) {
    case 'linear':
      return [linear('classifier.0', features, classes)];
    case 'bare-linear':
      return [linear('classifier', features, classes)];
    case 'dropout-mlp':
      return [
        { op: 'dropout', p: 0.5 },
        linear('classifier.1', features, 512),
        { op: 'relu' },
        { op: 'dropout', p: 0.5 },
        linear('classifier.4', 512, 512),
        { op: 'relu' },
        linear('classifier.6', 512, classes),
      ];
    default:
      throw new ArchError(
        `unknown VGG classifier ${JSON.stringify(kind)} (known: ${VGG_CLASSIFIERS.join(', ')})`,
      );
  }
}

/** The classifier variant whose keys a checkpoint holds, or undefined when none matches. */
export function inferVggClassifier(keys: Iterable<string>): VggClassifier | undefined {
  const has = new Set(keys);
  if (has.has('classifier.1.weight') && has.has('classifier.6.weight')) return 'dropout-mlp';
  if (has.has('classifier.0.weight')) return 'linear';
  if (has.has('classifier.weight')) return 'bare-linear';
  return undefined;
}
