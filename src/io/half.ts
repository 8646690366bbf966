// The half-float helpers moved to src/num/half.ts (gpu/ uses them and io/ sits below gpu/). This
// re-export keeps the imports of src/sglp/round-params.ts and some tests working until they import
// ../num/half.js themselves; then delete this file.
export { decodeBF16, decodeF16, encodeBF16, encodeF16, f32BitsToBF16, f32BitsToF16 } from '../num/half.js';
