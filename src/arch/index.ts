// Model architectures as data: tensors, layers in forward order, prunable units (docs/method.md §0), params and
// MACs; checking a checkpoint against them; and the pruned architecture.
export { describeCifarResnet } from './cifar-resnet.js';
export { DESCRIBED_ARCHITECTURES, describeModel } from './describe.js';
export { ArchError, StateDictError, type StateDictProblem } from './errors.js';
export {
  type DecoderLayerSpec,
  describeLlama,
  type LlamaNet,
  layerProjections,
  type ProjectionSpec,
} from './llama.js';
export {
  type CnnConfigJson,
  type LlmConfigJson,
  type ModelConfigJson,
  type PrunedModel,
  pruneModel,
  type ReinitUnit,
} from './prune.js';
export { describeResnet } from './resnet.js';
export { type CheckOptions, checkStateDict, checkStateDictKeys } from './state-dict.js';
export type {
  BatchNorm2dSpec,
  ClassifierLayer,
  CnnArchitecture,
  Conv2dSpec,
  ConvBn,
  DescribeOptions,
  LinearSpec,
  MaxPool2dSpec,
  ModelDescription,
  NetSpec,
  ParamKind,
  ParamSpec,
  ResidualBlockSpec,
  ResnetNet,
  Shape3,
  ShortcutSpec,
  UnitSpec,
  VggClassifier,
  VggFeature,
  VggNet,
} from './types.js';
export { describeVgg, inferVggClassifier, VGG_CLASSIFIERS } from './vgg.js';
