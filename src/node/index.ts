// Node entry: everything the portable library has, with a Dawn-backed acquireDevice.
export * from '../index.js';
export { acquireDevice, dawn } from './device.js';
