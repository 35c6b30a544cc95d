/**
 * Every knob of the benchmark, read once from the environment.
 *
 *   BENCH_QUICK=1        short runs and fewer connections (about a minute): a smoke test, not numbers to quote
 *   BENCH_PART=proxy     only the proxy comparison; BENCH_PART=broker only the broker comparison
 *   BENCH_SYSTEMS=a,b    only these systems (gateway, nginx, websockify, mosquitto, aedes)
 *   BENCH_CONNECTIONS=1  also the concurrent-connection ramp (slow; websockify forks a process per connection)
 *   BENCH_SKIP_BUILD=1   use dist/ as it is instead of running `npm run build` first
 *   BENCH_AEDES_FROM=dir a directory where `aedes` is installed, if not in this repository
 *   BENCH_OUT=file       where to write the JSON results (default bench/results.json, or results.quick.json)
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchOptions {
  readonly quick: boolean;
  readonly proxyPart: boolean;
  readonly brokerPart: boolean;
  /** null: all systems. */
  readonly systems: ReadonlySet<string> | null;
  readonly connections: boolean;
  readonly build: boolean;
  readonly aedesFrom: string | null;
  readonly outFile: string;

  readonly warmupMs: number;
  /** Warm-up before a fixed-rate latency run; the connections are new but the system is already warm. */
  readonly latencyWarmupMs: number;
  /** Windows per latency run, each with its own percentiles; the report shows the median window. */
  readonly latencyWindows: number;
  /**
   * Proxy latency is measured in this many rounds, each going through every proxy in turn, so that a
   * noisy minute on a shared machine weighs on every proxy alike; the median is over all rounds' windows.
   */
  readonly latencyRounds: number;
  /** Proxy comparison: windowed throughput, then fixed-rate latency, per system and payload. */
  readonly proxyThroughputMs: number;
  readonly proxyLatencyMs: number;
  readonly proxyPairs: number;
  readonly payloads: readonly number[];
  /** Broker comparison: the same two measurements per broker, transport, pattern and QoS. */
  readonly brokerThroughputMs: number;
  readonly brokerLatencyMs: number;
  readonly brokerPayload: number;
  /** Publishers in fan-in, subscribers in fan-out. */
  readonly fan: number;
  /** Messages each publisher may have in flight (sent, not yet received by all its subscribers). */
  readonly window: number;
  /** Delivered messages per second in the latency runs. */
  readonly latencyRate: number;

  readonly idleConnections: number;
  /**
   * websockify forks a ~3 MiB process per connection and its select() loop fails past ~500 connections
   * (FD_SETSIZE), so it gets fewer idle connections.
   */
  readonly idleConnectionsWebsockify: number;
  readonly connectConcurrency: number;
  readonly idleSettleMs: number;

  readonly holdTarget: number;
  readonly holdMs: number;
  readonly holdBudgetMs: number;
  readonly holdMinAvailableMiB: number;
  readonly holdMaxProcesses: number;
}

type Env = Readonly<Record<string, string | undefined>>;

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));

export function loadBenchOptions(env: Env): BenchOptions {
  const flag = (name: string): boolean => env[name] === '1' || env[name] === 'true';
  const quick = flag('BENCH_QUICK');
  const part = env.BENCH_PART ?? 'all';
  if (!['all', 'proxy', 'broker'].includes(part)) throw new Error(`BENCH_PART=${part}: expected proxy, broker or all`);
  const systems = env.BENCH_SYSTEMS?.trim() ? new Set(env.BENCH_SYSTEMS.split(',').map((s) => s.trim())) : null;

  return Object.freeze({
    quick,
    proxyPart: part !== 'broker',
    brokerPart: part !== 'proxy',
    systems,
    connections: flag('BENCH_CONNECTIONS'),
    build: !flag('BENCH_SKIP_BUILD'),
    aedesFrom: env.BENCH_AEDES_FROM?.trim() || null,
    outFile: env.BENCH_OUT?.trim() || path.join(BENCH_DIR, quick ? 'results.quick.json' : 'results.json'),

    warmupMs: quick ? 300 : 1000,
    latencyWarmupMs: quick ? 200 : 500,
    latencyWindows: 3,
    latencyRounds: quick ? 1 : 3,
    proxyThroughputMs: quick ? 1000 : 4000,
    proxyLatencyMs: quick ? 900 : 3000,
    proxyPairs: 4,
    payloads: [64, 1024],
    brokerThroughputMs: quick ? 700 : 2500,
    brokerLatencyMs: quick ? 600 : 1500,
    brokerPayload: 64,
    fan: 8,
    window: 64,
    latencyRate: 2000,

    idleConnections: quick ? 200 : 2000,
    idleConnectionsWebsockify: quick ? 50 : 400,
    connectConcurrency: 50,
    idleSettleMs: quick ? 500 : 1500,

    holdTarget: 9000,
    holdMs: 2000,
    holdBudgetMs: 120_000,
    holdMinAvailableMiB: 8192,
    holdMaxProcesses: 20_000,
  });
}

export function wantSystem(options: BenchOptions, name: string): boolean {
  return options.systems === null || options.systems.has(name);
}
