// Layers and models with explicit forward/backward (llm.c style): parameters on the GPU by state-dict
// name, the ResNets (CIFAR and torchvision), CIFAR VGG-BN, and createClassifier choosing between them.

export type { CaptureHook, ForwardOptions, Gradients } from './forward.js';
export {
  Llama,
  type LlamaActivations,
  type LlamaForwardOptions,
  type LlamaForwardResult,
  type LlamaLoss,
} from './llama.js';
export { type LlamaStreamOptions, type LlamaStreamResult, streamLlamaLayers } from './llama-stream.js';
export {
  type StreamBatchLoss,
  type StreamLossOptions,
  type StreamLossResult,
  streamLlamaLoss,
} from './llama-stream-grad.js';
export {
  CLASSIFIER_ARCHITECTURES,
  type ClassifierForward,
  type ClassifierModel,
  createClassifier,
  type SavedActivations,
} from './model.js';
export {
  isTrainable,
  type LoadOptions,
  ParamStore,
  PRECISIONS,
  type Precision,
  storageDType,
} from './params.js';
export { CifarResnet } from './resnet.js';
export type { ForwardResult, ResnetActivations } from './resnet-activations.js';
export { Vgg, type VggActivations, type VggForwardResult } from './vgg.js';
