/** One benchmarked operation: record() queues it, sync() waits for everything queued, on either engine. */
export interface Workload {
  record(): void;
  sync(): Promise<void>;
  dispose(): void;
}
