// Node entry: everything the portable library has, with a Dawn-backed acquireDevice.
export * from '../index.js';
export { loadImageDataset, loadModelDir, loadTextFile, runDirectory, writeExport } from './api.js';
export { FASHION_MNIST_DIR } from './datasets.js';
export { acquireDevice, dawn } from './device.js';
export {
  directorySource,
  type FileContent,
  openFileSource,
  writeFileAtomic,
  writeSafetensorsFile,
} from './files.js';
export { sleepingWaiter } from './wait.js';
