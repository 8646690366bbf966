// Pure bytes in, pure bytes out: checkpoints, configs and data sets, for Node, browsers and Deno alike.

export { decodeBF16, decodeF16, encodeBF16, encodeF16 } from '../num/half.js';
export {
  type Augment,
  type BatchOptions,
  batchCount,
  type ImageBatch,
  imageBatches,
  makeBatch,
  type Normalize,
  normalizationTable,
  sampleOrder,
} from './batches.js';
export { CIFAR_CLASSES, type CifarBatch, type CifarKind, parseCifarBatch } from './cifar.js';
export {
  type CifarResnetConfig,
  type CnnConfig,
  KNOWN_ARCHITECTURES,
  type Llama3RopeScaling,
  type LlmArchitecture,
  type LlmConfig,
  type ModelConfig,
  parseModelConfig,
  type ResnetConfig,
  readModelConfig,
  type VggConfig,
  validateModelConfig,
} from './config.js';
export {
  type DataKind,
  type DataSpec,
  type ImageDataSpec,
  isImageSpec,
  parseDataSpec,
  parseSplit,
  type Split,
} from './data-spec.js';
export { concatImageDatasets, type ImageDataset, imageDataset } from './dataset.js';
export { dtypeSize, SAFETENSORS_DTYPES, type SafetensorsDtype } from './dtypes.js';
export { ConfigError, DataSpecError, FormatError } from './errors.js';
export { gunzip, isGzip, maybeGunzip } from './gzip.js';
export { type IdxArray, idxImagesAndLabels, parseIdx } from './idx.js';
export { deriveSeed, Rng } from './prng.js';
export { openSafetensors, SafetensorsFile, type TensorInfo, type TensorStore } from './safetensors.js';
export {
  openCheckpoint,
  openSharded,
  parseShardIndex,
  SAFETENSORS_FILE,
  SAFETENSORS_INDEX_FILE,
  ShardedCheckpoint,
  type ShardIndex,
} from './safetensors-index.js';
export {
  type EncodedSafetensors,
  encodeSafetensors,
  serializeSafetensors,
  type TensorData,
  type TensorToWrite,
} from './safetensors-write.js';
export {
  type ByteSource,
  bytesSource,
  type DirectorySource,
  memoryDirectory,
  readAll,
  readText,
} from './source.js';
export {
  DEFAULT_SEQ_LEN,
  TEXT_TRAIN_FRACTION_PERCENT,
  type TextWindows,
  textSplitRange,
  textWindows,
} from './text-data.js';
export {
  byteTokenizer,
  parseTokenizer,
  readTokenizer,
  type TextTokenizer,
  TOKENIZER_CONFIG_FILE,
  TOKENIZER_FILE,
} from './tokenizer.js';
