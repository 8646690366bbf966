// Layers and models with explicit forward/backward (llm.c style): parameters on the GPU by state-dict
// name, and the CIFAR ResNet.
export { isTrainable, type LoadOptions, ParamStore } from './params.js';
export {
  type CaptureHook,
  CifarResnet,
  type ForwardOptions,
  type ForwardResult,
  type Gradients,
  type ResnetActivations,
} from './resnet.js';
