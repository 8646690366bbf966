export type { Activation } from './activation.js';
export { activation, add, type BinaryOp, binary, gelu, mul, relu, scale, silu } from './elementwise.js';
export { type GemmOptions, gemm } from './gemm.js';
export { chooseGemmTiles, type GemmShape, type GemmTiles } from './gemm-config.js';
export { gradNorm } from './grad-norm.js';
export { max, mean, type ReduceOp, reduce, sum, sumSquares } from './reduce.js';
export { softmax } from './softmax.js';
export { permute, transpose } from './transpose.js';
