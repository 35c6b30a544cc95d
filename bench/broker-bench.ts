/**
 * Part B: the gateway's embedded broker against Mosquitto and Aedes, over raw TCP and over WebSocket,
 * fan-in (N publishers → 1 subscriber) and fan-out (1 publisher → N subscribers), QoS 0 and QoS 1.
 */
import type { BenchOptions } from './options.js';
import { wantSystem } from './options.js';
import { startBroker, BROKER_LABELS, type AedesInstall, type BrokerKind, type SystemUnderTest } from './servers.js';
import { attempt, progress, withSystem } from './session.js';
import { flowNumbers, notMeasured, type Pattern, type Results } from './results.js';
import type { FlowJob, Target, Topology } from './load/jobs.js';

const BROKERS: readonly BrokerKind[] = ['gateway', 'mosquitto', 'aedes'];
const TRANSPORTS = ['tcp', 'ws'] as const;
const PATTERNS: readonly Pattern[] = ['fan-in', 'fan-out'];
const QOS_LEVELS = [0, 1] as const;
const CPU_LABEL = 'broker';

export interface Scenario {
  readonly transport: (typeof TRANSPORTS)[number];
  readonly pattern: Pattern;
  readonly qos: 0 | 1;
}

export function scenarios(): Scenario[] {
  return TRANSPORTS.flatMap((transport) => PATTERNS.flatMap((pattern) => QOS_LEVELS.map((qos) => ({ transport, pattern, qos }))));
}

export const scenarioLabel = (s: Scenario): string => `${s.transport.toUpperCase()} ${s.pattern} QoS ${s.qos}`;

export async function runBrokerComparison(options: BenchOptions, results: Results, aedes: AedesInstall | null): Promise<void> {
  for (const kind of BROKERS.filter((k) => wantSystem(options, k))) {
    const name = BROKER_LABELS[kind];
    const done = new Set<string>();
    const startError = await withSystem(
      () => startBroker(kind, aedes),
      async (system, load) => {
        for (const scenario of scenarios()) {
          const what = `${name} ${scenarioLabel(scenario)}`;
          const job = (pace: FlowJob['pace'], durationMs: number): FlowJob => flowJob(system, options, scenario, pace, durationMs);
          const throughput = await attempt(`${what} throughput`, results.errors, system, () => {
            const spec = job({ kind: 'window', window: options.window }, options.brokerThroughputMs);
            return load.run(spec, spec.warmupMs + spec.durationMs);
          });
          const latency = await attempt(`${what} latency`, results.errors, system, () => {
            const spec = job({ kind: 'rate', deliveredPerSecond: options.latencyRate }, options.brokerLatencyMs);
            return load.run(spec, spec.warmupMs + spec.durationMs);
          });
          const latencies = latency.value === null ? [] : [latency.value];
          const numbers = flowNumbers(throughput.value, latencies, CPU_LABEL);
          results.broker.runs.push({
            broker: name,
            ...scenario,
            ...numbers,
            error: throughput.error ?? latency.error,
            raw: { throughput: throughput.value, latency: latencies },
          });
          done.add(scenarioLabel(scenario));
          progress(
            `${what}: ${numbers.msgsPerSec === null ? '-' : Math.round(numbers.msgsPerSec).toLocaleString('en-US')} msg/s, ` +
              `${numbers.cpuSecPerMillion?.toFixed(2) ?? '-'} CPU s/M, p99 ${numbers.p99Ms?.toFixed(2) ?? '-'} ms`,
          );
        }
      },
    );
    if (startError !== null) {
      results.errors.push(`${name}: ${startError}`);
      progress(`FAILED to start ${name}: ${startError}`);
    }
    for (const scenario of scenarios().filter((s) => !done.has(scenarioLabel(s)))) {
      results.broker.runs.push({
        broker: name,
        ...scenario,
        ...notMeasured(startError),
      });
    }
  }
}

function flowJob(system: SystemUnderTest, options: BenchOptions, scenario: Scenario, pace: FlowJob['pace'], durationMs: number): FlowJob {
  const topology: Topology =
    scenario.pattern === 'fan-in' ? { kind: 'fan-in', publishers: options.fan } : { kind: 'fan-out', subscribers: options.fan };
  return {
    kind: 'flow',
    target: system[scenario.transport] as Target,
    topology,
    pace,
    payloadBytes: options.brokerPayload,
    qos: scenario.qos,
    warmupMs: pace.kind === 'rate' ? options.latencyWarmupMs : options.warmupMs,
    latencyWindows: pace.kind === 'rate' ? options.latencyWindows : 1,
    durationMs,
    watch: { [CPU_LABEL]: system.roots },
  };
}
