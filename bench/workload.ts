/** One benchmarked operation: record() queues it, sync() waits for everything queued, on either engine. */
export interface Workload {
  /** May be async (a forward pass that awaits its own steps); measure awaits it. */
  record(): void | Promise<void>;
  sync(): Promise<void>;
  dispose(): void;
  /** GPU time per operation from timestamp queries since the last reset, where the engine can tell. */
  gpuTime?: { reset(): void; perOpMs(): Promise<number | undefined> };
}
