export type { Activation } from './activation.js';
export {
  type AttentionLayout,
  type AttentionOptions,
  type AttentionTiles,
  attention,
  attentionBackward,
  attentionWorkgroupBytes,
  chooseAttentionTiles,
} from './attention.js';
export {
  type BatchNormGrads,
  type BatchNormOptions,
  type BatchNormParams,
  type BatchNormTrainResult,
  batchNorm2dBackward,
  batchNorm2dEval,
  batchNorm2dTrain,
  channelSum,
} from './batchnorm.js';
export { type CentreGramOptions, centreColumns, centreGram, type GramCentring } from './centre.js';
export {
  type Conv2dBackwardOptions,
  type Conv2dGeometry,
  type Conv2dGrads,
  type Conv2dOptions,
  type ConvShape,
  type ConvTiles,
  chooseConvTiles,
  chooseWgradTiles,
  conv2d,
  conv2dBackward,
  conv2dBackwardBias,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  type WgradTiles,
} from './conv2d.js';
export {
  type CrossEntropyOptions,
  type CrossEntropyResult,
  softmaxCrossEntropy,
  uploadLabels,
} from './cross-entropy.js';
export { type DropoutOptions, dropout, dropoutBackward, dropoutThreshold } from './dropout.js';
export { activation, add, type BinaryOp, binary, gelu, mul, relu, scale, silu } from './elementwise.js';
export { embedding, embeddingBackward, type TokenIds, uploadTokens } from './embedding.js';
export { type GemmOptions, gemm } from './gemm.js';
export { chooseGemmTiles, type GemmShape, type GemmTiles } from './gemm-config.js';
export { gradNorm } from './grad-norm.js';
export { chooseGramKernel, type GramKernel, gram } from './gram.js';
export { type LinearGrads, linear, linearBackward } from './linear.js';
export {
  globalAvgPool2d,
  globalAvgPool2dBackward,
  type MaxPoolOptions,
  type MaxPoolResult,
  maxPool2d,
  maxPool2dBackward,
} from './pool.js';
export { max, mean, type ReduceOp, reduce, sum, sumSquares } from './reduce.js';
export { rmsNorm, rmsNormBackward } from './rmsnorm.js';
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
} from './rope.js';
export { reluBackward, shortcutA, shortcutABackward, shortcutAPad } from './shortcut.js';
export { softmax } from './softmax.js';
export { type GateUp, swiglu, swigluBackward } from './swiglu.js';
export {
  IGNORE_INDEX,
  nextTokenTargets,
  type TokenCrossEntropy,
  type TokenCrossEntropyBackwardOptions,
  tokenCrossEntropy,
  tokenCrossEntropyBackward,
  uploadTargets,
} from './token-cross-entropy.js';
export { permute, transpose } from './transpose.js';
