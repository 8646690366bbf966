export {
  type Conv2dBackwardOptions,
  type Conv2dGrads,
  type Conv2dOptions,
  type ConvShape,
  type ConvTiles,
  chooseConvTiles,
  conv2d,
  conv2dBackward,
  conv2dBackwardBias,
  conv2dBackwardInput,
} from './conv/conv2d.js';
export type { Conv2dGeometry } from './conv/conv2d-shape.js';
export { chooseWgradTiles, conv2dBackwardWeight, type WgradTiles } from './conv/conv2d-wgrad.js';
export {
  globalAvgPool2d,
  globalAvgPool2dBackward,
  type MaxPoolOptions,
  type MaxPoolResult,
  maxPool2d,
  maxPool2dBackward,
} from './conv/pool.js';
export { reluBackward, shortcutA, shortcutABackward, shortcutAPad } from './conv/shortcut.js';
export type { Activation } from './elementwise/activation.js';
export { type DropoutOptions, dropout, dropoutBackward, dropoutThreshold } from './elementwise/dropout.js';
export {
  activation,
  add,
  type BinaryOp,
  binary,
  gelu,
  mul,
  relu,
  scale,
  silu,
} from './elementwise/elementwise.js';
export { type OptimStep, optimStep } from './elementwise/optim.js';
export { type GemmOptions, gemm } from './linalg/gemm.js';
export { chooseGemmTiles, type GemmShape, type GemmTiles } from './linalg/gemm-config.js';
export { chooseGramKernel, type GramKernel, gram } from './linalg/gram.js';
export { type LinearGrads, linear, linearBackward } from './linalg/linear.js';
export { permute, transpose } from './linalg/transpose.js';
export {
  type AttentionLayout,
  type AttentionOptions,
  type AttentionTiles,
  attention,
  attentionBackward,
  attentionWorkgroupBytes,
  chooseAttentionTiles,
} from './llm/attention.js';
export { embedding, embeddingBackward, type TokenIds, uploadTokens } from './llm/embedding.js';
export {
  type HeadLayout,
  parseRopeScaling,
  type RopeConfig,
  type RopeOptions,
  type RopeScaling,
  type RopeTables,
  rope,
  ropeBackward,
  ropeInvFreq,
  ropeTables,
} from './llm/rope.js';
export { type GateUp, swiglu, swigluBackward } from './llm/swiglu.js';
export {
  IGNORE_INDEX,
  nextTokenTargets,
  type TokenCrossEntropy,
  type TokenCrossEntropyBackwardOptions,
  tokenCrossEntropy,
  tokenCrossEntropyBackward,
  uploadTargets,
} from './llm/token-cross-entropy.js';
export {
  type BatchNormGrads,
  type BatchNormOptions,
  type BatchNormParams,
  type BatchNormTrainResult,
  batchNorm2dBackward,
  batchNorm2dEval,
  batchNorm2dTrain,
  channelSum,
} from './norm/batchnorm.js';
export { type CentreGramOptions, centreColumns, centreGram, type GramCentring } from './norm/centre.js';
export {
  type CrossEntropyOptions,
  type CrossEntropyResult,
  softmaxCrossEntropy,
  uploadLabels,
} from './norm/cross-entropy.js';
export { rmsNorm, rmsNormBackward } from './norm/rmsnorm.js';
export { softmax } from './norm/softmax.js';
export { gradNorm } from './reduce/grad-norm.js';
export { max, mean, type ReduceOp, reduce, sum, sumSquares } from './reduce/reduce.js';
