/** Calls a server process has answered; read by the parent at the start and end of each window. */
export interface CallCounter {
  calls: number;
}

/** A running echo server of one stack. */
export interface BenchServer {
  readonly port: number;
  close(): Promise<void>;
}
