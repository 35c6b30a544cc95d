/**
 * Part A: MQTT over WebSocket through a proxy to Mosquitto over TCP. The gateway against nginx,
 * websockify and Mosquitto's own WebSocket listener, each in front of a fresh Mosquitto.
 */
import type { BenchOptions } from './options.js';
import { wantSystem } from './options.js';
import { startProxy, PROXY_LABELS, type ProxyKind, type SystemUnderTest } from './servers.js';
import { attempt, progress, withSystem } from './session.js';
import { cpuPerMillion, flowNumbers, notMeasured, type Results } from './results.js';
import type { FlowJob, FlowResult, Target } from './load/jobs.js';
import type { LoadGenerator } from './loadgen.js';

const PROXIES: readonly ProxyKind[] = ['gateway', 'nginx', 'websockify', 'mosquitto'];
/** Systems the connection ramp runs against (the brief: the gateway and websockify). */
const RAMPED: readonly ProxyKind[] = ['gateway', 'websockify'];

const CPU = { proxy: 'proxy', backend: 'backend' } as const;

const format = (n: number): string => Math.round(n).toLocaleString('en-US');

export async function runProxyComparison(options: BenchOptions, results: Results): Promise<void> {
  const kinds = PROXIES.filter((k) => wantSystem(options, k));
  const flows = new Map<ProxyKind, SystemFlows>();
  for (const kind of kinds) {
    const name = PROXY_LABELS[kind];
    flows.set(kind, await measureFlows(kind, options, results, true));

    await measureIdle(kind, 'ws', options, results);
    if (kind === 'gateway' || kind === 'nginx') await measureIdle(kind, 'wss', options, results);

    if (options.connections && RAMPED.includes(kind)) {
      progress(`${name}: ramping towards ${format(options.holdTarget)} connections`);
      let row: Results['proxy']['connections'][number] | null = null;
      const startError = await withSystem(
        () => startProxy(kind),
        async (system, load) => {
          const { value, error } = await attempt(`${name} connections`, results.errors, system, () =>
            load.run(
              {
                kind: 'hold',
                target: system.ws as Target,
                max: options.holdTarget,
                concurrency: options.connectConcurrency,
                holdMs: options.holdMs,
                budgetMs: options.holdBudgetMs,
                minAvailableMiB: options.holdMinAvailableMiB,
                maxProcesses: options.holdMaxProcesses,
                watch: system.roots,
              },
              options.holdBudgetMs + options.holdMs,
            ),
          );
          row = {
            system: name,
            target: options.holdTarget,
            held: value?.held ?? null,
            stoppedBy: value?.stoppedBy ?? null,
            rssMiB: value === null ? null : value.memory.rssKiB / 1024,
            pssMiB: value === null ? null : value.memory.pssKiB / 1024,
            systemSays: lastComplaint(system.recentOutput()),
            error,
          };
          if (value !== null) progress(`${name}: held ${format(value.held)} (${value.stoppedBy})`);
        },
      );
      results.proxy.connections.push(
        row ?? { system: name, target: options.holdTarget, held: null, stoppedBy: null, rssMiB: null, pssMiB: null, systemSays: null, error: startError },
      );
    }
  }
  // Further latency rounds, every proxy in turn, so that each is measured near the others in time.
  for (let round = 2; round <= options.latencyRounds; round++) {
    for (const kind of kinds) {
      const more = await measureFlows(kind, options, results, false);
      for (const [payload, measured] of (flows.get(kind) as SystemFlows).byPayload) measured.latency.push(...(more.byPayload.get(payload)?.latency ?? []));
    }
  }
  for (const kind of kinds) {
    const { byPayload, startError } = flows.get(kind) as SystemFlows;
    for (const payloadBytes of options.payloads) {
      const measured = byPayload.get(payloadBytes);
      const system = PROXY_LABELS[kind];
      if (measured === undefined) {
        results.proxy.flows.push({ system, payloadBytes, ...notMeasured(startError), backendCpuSecPerMillion: null });
        continue;
      }
      const numbers = flowNumbers(measured.throughput, measured.latency, CPU.proxy);
      results.proxy.flows.push({
        system,
        payloadBytes,
        ...numbers,
        backendCpuSecPerMillion: measured.backendCpuSecPerMillion,
        error: measured.error,
        raw: { throughput: measured.throughput, latency: measured.latency },
      });
      progress(
        `${system} ${payloadBytes} B: ${numbers.msgsPerSec === null ? '-' : format(numbers.msgsPerSec)} msg/s, ` +
          `${numbers.cpuSecPerMillion?.toFixed(2) ?? '-'} CPU s/M, p99 ${numbers.p99Ms?.toFixed(2) ?? '-'} ms ` +
          `(median of ${measured.latency.reduce((n, run) => n + run.latencyWindows.length, 0)} latency windows)`,
      );
    }
  }
}

/** What one proxy's flow runs measured, by payload size. */
interface SystemFlows {
  readonly byPayload: Map<number, { throughput: FlowResult | null; latency: FlowResult[]; backendCpuSecPerMillion: number | null; error: string | null }>;
  readonly startError: string | null;
}

/** One round for one proxy: per payload, a throughput run (the first round only) and a latency run. */
async function measureFlows(kind: ProxyKind, options: BenchOptions, results: Results, withThroughput: boolean): Promise<SystemFlows> {
  const name = PROXY_LABELS[kind];
  const byPayload: SystemFlows['byPayload'] = new Map();
  const startError = await withSystem(
    () => startProxy(kind),
    async (system, load) => {
      for (const payloadBytes of options.payloads) {
        const what = `${name} ${payloadBytes} B`;
        const throughput = withThroughput
          ? await attempt(`${what} throughput`, results.errors, system, () =>
              runFlow(load, flowJob(system, options, payloadBytes, { kind: 'window', window: options.window }, options.proxyThroughputMs)),
            )
          : { value: null, error: null };
        const latency = await attempt(`${what} latency`, results.errors, system, () =>
          runFlow(load, flowJob(system, options, payloadBytes, { kind: 'rate', deliveredPerSecond: options.latencyRate }, options.proxyLatencyMs)),
        );
        byPayload.set(payloadBytes, {
          throughput: throughput.value,
          latency: latency.value === null ? [] : [latency.value],
          backendCpuSecPerMillion: system.backendRoots.length === 0 ? null : cpuPerMillion(throughput.value, CPU.backend),
          error: throughput.error ?? latency.error,
        });
      }
    },
  );
  if (startError !== null) {
    results.errors.push(`${name}: ${startError}`);
    progress(`FAILED to start ${name}: ${startError}`);
  }
  return { byPayload, startError };
}

/** The last line that looks like an error, e.g. websockify's `filedescriptor out of range in select()`. */
function lastComplaint(output: string): string | null {
  const lines = output.split('\n').filter((line) => /error|exception|refus|too many|limit/i.test(line));
  return lines.at(-1)?.trim() ?? null;
}

function flowJob(system: SystemUnderTest, options: BenchOptions, payloadBytes: number, pace: FlowJob['pace'], durationMs: number): FlowJob {
  return {
    kind: 'flow',
    target: system.ws as Target,
    topology: { kind: 'pairs', pairs: options.proxyPairs },
    pace,
    payloadBytes,
    qos: 0,
    warmupMs: pace.kind === 'rate' ? options.latencyWarmupMs : options.warmupMs,
    latencyWindows: pace.kind === 'rate' ? options.latencyWindows : 1,
    durationMs,
    watch: { [CPU.proxy]: system.roots, [CPU.backend]: system.backendRoots },
  };
}

function runFlow(load: LoadGenerator, job: FlowJob) {
  return load.run(job, job.warmupMs + job.durationMs);
}

async function measureIdle(kind: ProxyKind, transport: 'ws' | 'wss', options: BenchOptions, results: Results): Promise<void> {
  const name = PROXY_LABELS[kind];
  const count = kind === 'websockify' ? options.idleConnectionsWebsockify : options.idleConnections;
  let row: Results['proxy']['memory'][number] | null = null;
  const startError = await withSystem(
    () => startProxy(kind, { tls: transport === 'wss' }),
    async (system, load) => {
      const target = transport === 'wss' ? system.wss : system.ws;
      const { value, error } = await attempt(`${name} ${transport} idle memory`, results.errors, system, async () => {
        if (target === undefined) throw new Error(`${name} has no ${transport} listener`);
        return load.run(
          { kind: 'idle', target, count, concurrency: options.connectConcurrency, settleMs: options.idleSettleMs, watch: system.roots },
          options.idleSettleMs + 60_000,
        );
      });
      row = {
        system: name,
        transport,
        connections: value?.opened ?? null,
        rssKiBPerConnection: value?.rssKiBPerConnection ?? null,
        pssKiBPerConnection: value?.pssKiBPerConnection ?? null,
        rssKiBPerConnectionFromZero: value?.rssKiBPerConnectionFromZero ?? null,
        error,
      };
      if (value !== null) {
        progress(
          `${name} ${transport}: ${format(value.opened)} idle connections, ` +
            `${value.rssKiBPerConnection.toFixed(1)} KiB RSS / ${value.pssKiBPerConnection.toFixed(1)} KiB PSS each ` +
            `(${value.rssKiBPerConnectionFromZero.toFixed(1)} KiB RSS from zero)`,
        );
      }
    },
  );
  if (startError !== null) results.errors.push(`${name} (${transport}): ${startError}`);
  results.proxy.memory.push(
    row ?? { system: name, transport, connections: null, rssKiBPerConnection: null, pssKiBPerConnection: null, rssKiBPerConnectionFromZero: null, error: startError },
  );
}
