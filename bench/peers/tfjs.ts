// TensorFlow.js's WebGPU backend on the same adapter, in the same process: the peer for kernel timings.
import * as tf from '@tensorflow/tfjs-core';
import type { Gpu, Waiter } from '../../src/gpu/device.js';
import type { Workload } from '../workload.js';

interface WebGpuBackend {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

export interface TfjsPeer {
  matMul(m: number, n: number, k: number): Workload;
  sum(n: number): Workload;
  /** NHWC 'same' convolution, stride 1: tfjs's native layout. */
  conv2d(n: number, c: number, h: number, co: number, k: number): Workload;
}

/**
 * How the peer waits for the GPU: as our runtime does (sleeping on a CPU adapter, where dawn.node's polling
 * would spin a core the kernels need), so timings compare kernels; SGLP_BENCH_PEER_SPIN=1 gives tfjs
 * dawn.node's own wait.
 */
export function peerWaiter(ours: Gpu): Waiter {
  return process.env.SGLP_BENCH_PEER_SPIN === '1' ? (p) => p : (p) => ours.wait(p);
}

/** Starts tfjs's WebGPU backend on `gpu` (Dawn's entry point: the adapter ours runs on). */
export async function startTfjsWebgpu(gpu: GPU): Promise<void> {
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true });
  if (!g.navigator?.gpu) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  // The backend registers itself on import only if navigator.gpu exists by then.
  await import('@tensorflow/tfjs-backend-webgpu');
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs could not start its WebGPU backend');
  await tf.ready();
}

/** Flushes tfjs's queued commands and waits for the GPU with `wait` (peerWaiter). */
export async function tfjsSync(wait: Waiter): Promise<void> {
  const backend = tf.backend() as unknown as WebGpuBackend;
  // tfjs may have submitted on its own (large batches), leaving no encoder open.
  if (backend.commandEncoder) {
    backend.endComputePassEncoder();
    backend.submitQueue();
  }
  await wait(backend.device.queue.onSubmittedWorkDone());
}

export async function tfjsPeer(gpu: GPU, wait: Waiter): Promise<TfjsPeer> {
  await startTfjsWebgpu(gpu);
  return {
    matMul(m, n, k) {
      const a = tf.randomUniform([m, k], -1, 1);
      const b = tf.randomUniform([k, n], -1, 1);
      return tfjsWorkload([a, b], () => tf.matMul(a, b), wait);
    },
    sum(n) {
      const x = tf.randomUniform([n], -1, 1);
      return tfjsWorkload([x], () => tf.sum(x), wait);
    },
    conv2d(n, c, h, co, k) {
      const x = tf.randomUniform([n, h, h, c], -1, 1) as tf.Tensor4D;
      const w = tf.randomUniform([k, k, c, co], -1, 1) as tf.Tensor4D;
      return tfjsWorkload([x, w], () => tf.conv2d(x, w, 1, 'same'), wait);
    },
  };
}

/**
 * A tfjs workload: `op` queues work and returns what to free after the wait. tfjs batches commands itself;
 * sync flushes them and waits for the GPU with `wait` (peerWaiter), as our side's sync does.
 */
export function tfjsWorkload(inputs: tf.Tensor[], op: () => tf.Tensor | tf.Tensor[], wait: Waiter): Workload {
  const outputs: tf.Tensor[] = [];
  return {
    record: () => {
      outputs.push(...[op()].flat());
    },
    sync: async () => {
      await tfjsSync(wait);
      tf.dispose(outputs.splice(0));
    },
    dispose: () => tf.dispose(inputs),
  };
}
