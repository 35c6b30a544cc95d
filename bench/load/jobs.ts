/**
 * The jobs the load-generator process runs, and what it reports back. Plain data: they cross an IPC channel.
 */

/** Where the load generator connects: `ws://`, `wss://` or `tcp://` (raw MQTT). */
export interface Target {
  readonly url: string;
  /** WebSocket subprotocol to offer; null offers none (websockify refuses any but `binary`). */
  readonly subprotocol: string | null;
}

/** Which publisher feeds which subscriber. Topics are per job, so runs never see each other's messages. */
export type Topology =
  | { readonly kind: 'pairs'; readonly pairs: number } // publisher i → subscriber i, distinct topics
  | { readonly kind: 'fan-in'; readonly publishers: number } // N publishers → 1 subscriber, one topic
  | { readonly kind: 'fan-out'; readonly subscribers: number }; // 1 publisher → N subscribers, one topic

/**
 * `window`: each publisher keeps at most `window` messages that some subscriber has not yet received,
 * so we measure how fast the system drains, not how fast its queues grow.
 * `rate`: a fixed total delivery rate, low enough that latency is not queueing.
 */
export type Pace = { readonly kind: 'window'; readonly window: number } | { readonly kind: 'rate'; readonly deliveredPerSecond: number };

export interface FlowJob {
  readonly kind: 'flow';
  readonly target: Target;
  readonly topology: Topology;
  readonly pace: Pace;
  readonly payloadBytes: number;
  readonly qos: 0 | 1;
  readonly warmupMs: number;
  readonly durationMs: number;
  /**
   * The measured interval is also cut into this many equal windows with their own percentiles, so a
   * report can take the median window and not let one scheduler stall (another process on the
   * machine) decide a p99.
   */
  readonly latencyWindows: number;
  /** Process trees whose CPU time is read at the start and end of the measured interval, by label. */
  readonly watch: Readonly<Record<string, readonly number[]>>;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface FlowResult {
  readonly published: number;
  readonly delivered: number;
  /** Messages given up on after a stall (QoS 0 may be dropped); 0 in a healthy run. */
  readonly lost: number;
  readonly elapsedMs: number;
  readonly deliveredPerSecond: number;
  /** Over the whole measured interval. */
  readonly latency: LatencySummary;
  /** Per window (see FlowJob.latencyWindows). */
  readonly latencyWindows: readonly LatencySummary[];
  /** CPU seconds used during the measured interval, per label of `watch`. */
  readonly cpuSeconds: Readonly<Record<string, number>>;
  /** Of those, the seconds spent in the kernel (system calls, the loopback network stack). */
  readonly systemCpuSeconds: Readonly<Record<string, number>>;
  /** CPU seconds of the load generator itself: close to elapsed time means it was the bottleneck. */
  readonly loadGeneratorCpuSeconds: number;
}

/** Open `count` CONNECTed connections, leave them idle, and see what they cost the system's memory. */
export interface IdleJob {
  readonly kind: 'idle';
  readonly target: Target;
  readonly count: number;
  readonly concurrency: number;
  readonly settleMs: number;
  readonly watch: readonly number[];
}

export interface MemoryKiB {
  readonly rssKiB: number;
  readonly pssKiB: number;
  readonly processes: number;
}

export interface IdleResult {
  readonly opened: number;
  readonly before: MemoryKiB;
  /** With half the connections open. */
  readonly middle: MemoryKiB;
  readonly after: MemoryKiB;
  /** The slope from half the connections to all of them. */
  readonly rssKiBPerConnection: number;
  readonly pssKiBPerConnection: number;
  /** Everything the connections added, fixed costs included, divided among them. */
  readonly rssKiBPerConnectionFromZero: number;
}

/** Open connections until `max`, the first failure, the time budget or a memory guard; then hold them. */
export interface HoldJob {
  readonly kind: 'hold';
  readonly target: Target;
  readonly max: number;
  readonly concurrency: number;
  readonly holdMs: number;
  readonly budgetMs: number;
  /** Stop opening when the machine's MemAvailable falls below this. */
  readonly minAvailableMiB: number;
  /** Stop opening when the machine has this many processes (websockify forks one per connection). */
  readonly maxProcesses: number;
  readonly watch: readonly number[];
}

export interface HoldResult {
  readonly attempted: number;
  readonly opened: number;
  /** Still open after the hold period. */
  readonly held: number;
  readonly stoppedBy: string;
  readonly memory: MemoryKiB;
}

export type Job = FlowJob | IdleJob | HoldJob;
export type ResultOf<J extends Job> = J extends FlowJob ? FlowResult : J extends IdleJob ? IdleResult : HoldResult;

export type WorkerRequest = { readonly id: number; readonly job: Job };
export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly result: FlowResult | IdleResult | HoldResult }
  | { readonly id: number; readonly ok: false; readonly error: string };
