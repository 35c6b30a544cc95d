/** The shape of bench/results.json, and how a load-generator result becomes a row. */
import type { FlowResult, LatencySummary } from './load/jobs.js';

export interface Meta {
  readonly date: string;
  readonly quick: boolean;
  readonly node: string;
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly versions: Readonly<Record<string, string>>;
  readonly settings: Readonly<Record<string, unknown>>;
  /**
   * 1-minute load average before the benchmark started anything, and when it finished. Above ~1 at
   * the start, other work was competing for the two cores and the numbers are noisy.
   */
  readonly loadAverage: { readonly before: number; after: number | null };
}

/** What one throughput run and one latency run measured. Numbers are null when the step failed. */
export interface FlowMeasures {
  readonly msgsPerSec: number | null;
  /** CPU seconds of the system's process tree per million delivered messages. */
  readonly cpuSecPerMillion: number | null;
  /** Of those, the seconds in the kernel: the part a faster program cannot save. */
  readonly systemCpuSecPerMillion: number | null;
  /** Latency at the fixed rate: the median over the latency windows of every round (overall values in `raw`). */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** p99 during the throughput run: mostly the window divided by the rate. */
  readonly loadedP99Ms: number | null;
  /** Share of one core used by the load generator in the throughput run; near 1 means it limited the rate. */
  readonly loadGeneratorCores: number | null;
  readonly lost: number | null;
  readonly error: string | null;
  /** The throughput run, and the latency runs (one per round). */
  readonly raw: { readonly throughput: FlowResult | null; readonly latency: readonly FlowResult[] };
}

/** A step that never ran (its system did not start): every number null, and why. */
export function notMeasured(error: string | null): FlowMeasures {
  return { ...flowNumbers(null, [], ''), error, raw: { throughput: null, latency: [] } };
}

/** One system and payload of the proxy comparison. */
export interface ProxyFlowRow extends FlowMeasures {
  readonly system: string;
  readonly payloadBytes: number;
  /** The same as cpuSecPerMillion for the Mosquitto behind the proxy (null for Mosquitto's own listener). */
  readonly backendCpuSecPerMillion: number | null;
}

export interface MemoryRow {
  readonly system: string;
  readonly transport: 'ws' | 'wss';
  readonly connections: number | null;
  /** The slope from half the connections to all of them. */
  readonly rssKiBPerConnection: number | null;
  readonly pssKiBPerConnection: number | null;
  /** RSS added by all the connections, fixed costs included, divided among them. */
  readonly rssKiBPerConnectionFromZero: number | null;
  readonly error: string | null;
}

export interface ConnectionsRow {
  readonly system: string;
  readonly target: number;
  readonly held: number | null;
  readonly stoppedBy: string | null;
  readonly rssMiB: number | null;
  readonly pssMiB: number | null;
  /** The system's own last complaint (error or exception line), if it printed one. */
  readonly systemSays: string | null;
  readonly error: string | null;
}

export type Pattern = 'fan-in' | 'fan-out';

export interface BrokerRow extends FlowMeasures {
  readonly broker: string;
  readonly transport: 'tcp' | 'ws';
  readonly pattern: Pattern;
  readonly qos: 0 | 1;
}

export interface Results {
  readonly meta: Meta;
  readonly proxy: { flows: ProxyFlowRow[]; memory: MemoryRow[]; connections: ConnectionsRow[] };
  readonly broker: { runs: BrokerRow[] };
  /** Every step that failed, in words. */
  readonly errors: string[];
}

/** CPU seconds of the process tree `label` per million delivered messages (or of its system time only). */
export function cpuPerMillion(throughput: FlowResult | null, label: string, kind: 'total' | 'system' = 'total'): number | null {
  const seconds = kind === 'total' ? throughput?.cpuSeconds[label] : throughput?.systemCpuSeconds[label];
  if (throughput === null || seconds === undefined || throughput.delivered === 0) return null;
  return (seconds / throughput.delivered) * 1e6;
}

/** The median of the per-window values of every run: one stalled second does not decide a percentile. */
function medianOfWindows(runs: readonly FlowResult[], pick: (summary: LatencySummary) => number): number | null {
  const values = runs.flatMap((run) => run.latencyWindows.map(pick)).filter(Number.isFinite).sort((a, b) => a - b);
  if (values.length === 0) return null;
  const middle = Math.floor(values.length / 2);
  return values.length % 2 === 1 ? (values[middle] as number) : ((values[middle - 1] as number) + (values[middle] as number)) / 2;
}

/** The numbers a row shows from a throughput run and a latency run; `label` picks the CPU account. */
export function flowNumbers(throughput: FlowResult | null, latency: readonly FlowResult[], label: string) {
  return {
    msgsPerSec: throughput?.deliveredPerSecond ?? null,
    cpuSecPerMillion: cpuPerMillion(throughput, label),
    systemCpuSecPerMillion: cpuPerMillion(throughput, label, 'system'),
    p50Ms: medianOfWindows(latency, (l) => l.p50Ms),
    p99Ms: medianOfWindows(latency, (l) => l.p99Ms),
    loadedP99Ms: throughput?.latency.p99Ms ?? null,
    loadGeneratorCores: throughput === null ? null : throughput.loadGeneratorCpuSeconds / (throughput.elapsedMs / 1000),
    lost: throughput === null ? null : throughput.lost + latency.reduce((sum, run) => sum + run.lost, 0),
  };
}
