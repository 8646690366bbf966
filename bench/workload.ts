/** One benchmarked operation: record() queues it, sync() waits for everything queued, on either engine. */
export interface Workload {
  record(): void;
  sync(): Promise<void>;
  dispose(): void;
  /** GPU time per operation from timestamp queries since the last reset, where the engine can tell. */
  gpuTime?: { reset(): void; perOpMs(): Promise<number | undefined> };
}
