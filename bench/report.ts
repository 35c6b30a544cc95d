/**
 * Markdown tables for the README. Every metric is shown with its ratio to the reference systems of the
 * same run: nginx and websockify for the proxies, Mosquitto and Aedes for the brokers.
 */
import type { BrokerRow, ProxyFlowRow, Results } from './results.js';
import { PROXY_LABELS, BROKER_LABELS } from './servers.js';
import { scenarios, scenarioLabel } from './broker-bench.js';

type Cell = string;

/** Load average (1 min) above which, before we start anything, other work is competing with the benchmark. */
const BUSY_LOAD_AVERAGE = 1;

/** Numbers, ratios and the missing mark align right; words align left. */
const NUMERIC = /^(–|-?[\d,.]+(×| ?%)?)$/;

function table(header: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const line = (cells: readonly Cell[]): string => `| ${cells.join(' | ')} |`;
  const align = header.map((_, i) => (i > 0 && rows.every((row) => NUMERIC.test(row[i] ?? '')) ? '---:' : '---'));
  return [line(header), line(align), ...rows.map(line)].join('\n');
}

const missing = '–';
const integer = (n: number | null): Cell => (n === null || !Number.isFinite(n) ? missing : Math.round(n).toLocaleString('en-US'));
const decimal = (digits: number) => (n: number | null): Cell => (n === null || !Number.isFinite(n) ? missing : n.toFixed(digits));
const ratio = (value: number | null, reference: number | null): Cell =>
  value === null || reference === null || !Number.isFinite(value) || !Number.isFinite(reference) || reference === 0
    ? missing
    : `${formatRatio(value / reference)}×`;
/** Two decimals, but two significant digits for small ratios (websockify's memory makes 0.004× appear). */
const formatRatio = (r: number): string => (r !== 0 && Math.abs(r) < 0.1 ? r.toPrecision(2) : r.toFixed(2));
const payloadLabel = (bytes: number): string => (bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`);

interface Metric<Row> {
  readonly title: string;
  readonly pick: (row: Row) => number | null;
  readonly show: (n: number | null) => Cell;
}

const PROXY_METRICS: readonly Metric<ProxyFlowRow>[] = [
  { title: 'Delivered messages per second (higher is better)', pick: (r) => r.msgsPerSec, show: integer },
  { title: 'Proxy CPU seconds per million messages (lower is better)', pick: (r) => r.cpuSecPerMillion, show: decimal(2) },
  {
    title: 'Of which system time: the kernel, for system calls and the loopback network (lower is better)',
    pick: (r) => r.systemCpuSecPerMillion,
    show: decimal(2),
  },
  { title: 'Round-trip latency p50 at a fixed rate, ms, median of the windows (lower is better)', pick: (r) => r.p50Ms, show: decimal(2) },
  { title: 'Round-trip latency p99 at a fixed rate, ms, median of the windows (lower is better)', pick: (r) => r.p99Ms, show: decimal(2) },
];

function proxyTables(results: Results): string[] {
  const flows = results.proxy.flows;
  if (flows.length === 0) return [];
  const payloads = [...new Set(flows.map((r) => r.payloadBytes))];
  const systems = [...new Set(flows.map((r) => r.system))];
  const find = (system: string, payload: number): ProxyFlowRow | undefined =>
    flows.find((r) => r.system === system && r.payloadBytes === payload);
  const out: string[] = [];

  for (const metric of PROXY_METRICS) {
    const header = ['system', ...payloads.flatMap((p) => [payloadLabel(p), '÷ nginx', '÷ websockify'])];
    const rows = systems.map((system) => [
      system,
      ...payloads.flatMap((payload) => {
        const value = pickOf(find(system, payload), metric.pick);
        return [
          metric.show(value),
          ratio(value, pickOf(find(PROXY_LABELS.nginx, payload), metric.pick)),
          ratio(value, pickOf(find(PROXY_LABELS.websockify, payload), metric.pick)),
        ];
      }),
    ]);
    out.push(`#### ${metric.title}\n\n${table(header, rows)}`);
  }

  const memory = results.proxy.memory;
  if (memory.length > 0) {
    // Each row is compared with the reference on the same transport (websockify has no wss).
    const reference = (system: string, transport: 'ws' | 'wss'): number | null =>
      memory.find((r) => r.system === system && r.transport === transport)?.pssKiBPerConnection ?? null;
    const rows = memory.map((r) => [
      r.transport === 'ws' ? r.system : `${r.system} (${r.transport})`,
      integer(r.connections),
      decimal(1)(r.rssKiBPerConnection),
      decimal(1)(r.pssKiBPerConnection),
      ratio(r.pssKiBPerConnection, reference(PROXY_LABELS.nginx, r.transport)),
      ratio(r.pssKiBPerConnection, reference(PROXY_LABELS.websockify, r.transport)),
      decimal(1)(r.rssKiBPerConnectionFromZero),
    ]);
    out.push(
      '#### Memory per idle connection, KiB (lower is better; slope from half the connections to all, ratios on PSS)\n\n' +
        table(['system', 'connections', 'RSS / conn', 'PSS / conn', '÷ nginx', '÷ websockify', 'RSS / conn from zero'], rows),
    );
  }

  const connections = results.proxy.connections;
  if (connections.length > 0) {
    const rows = connections.map((r) => [
      r.system,
      integer(r.target),
      integer(r.held),
      r.stoppedBy ?? r.error ?? missing,
      r.systemSays === null ? missing : `\`${r.systemSays.replace(/[|`]/g, ' ')}\``,
      decimal(0)(r.pssMiB),
    ]);
    out.push(
      '#### Concurrent connections\n\n' +
        table(['system', 'target', 'held', 'stopped by', 'last error the system logged', 'PSS MiB at the end'], rows),
    );
  }
  return out;
}

const BROKER_METRICS: readonly Metric<BrokerRow>[] = [
  { title: 'Delivered messages per second (higher is better)', pick: (r) => r.msgsPerSec, show: integer },
  { title: 'Broker CPU seconds per million delivered messages (lower is better)', pick: (r) => r.cpuSecPerMillion, show: decimal(2) },
  { title: 'Round-trip latency p99 at a fixed rate, ms, median of the windows (lower is better)', pick: (r) => r.p99Ms, show: decimal(2) },
];

function brokerTables(results: Results): string[] {
  const runs = results.broker.runs;
  if (runs.length === 0) return [];
  const brokers = [...new Set(runs.map((r) => r.broker))];
  const subject = BROKER_LABELS.gateway;
  const references = [BROKER_LABELS.mosquitto, BROKER_LABELS.aedes];
  const out: string[] = [];
  for (const metric of BROKER_METRICS) {
    const header = ['scenario', ...brokers, ...references.map((r) => `gateway ÷ ${r}`)];
    const rows = scenarios().map((scenario) => {
      const value = (broker: string): number | null =>
        pickOf(
          runs.find((r) => r.broker === broker && r.transport === scenario.transport && r.pattern === scenario.pattern && r.qos === scenario.qos),
          metric.pick,
        );
      return [scenarioLabel(scenario), ...brokers.map((b) => metric.show(value(b))), ...references.map((r) => ratio(value(subject), value(r)))];
    });
    out.push(`#### ${metric.title}\n\n${table(header, rows)}`);
  }
  return out;
}

function pickOf<Row>(row: Row | undefined, pick: (row: Row) => number | null): number | null {
  return row === undefined ? null : pick(row);
}

export function renderMarkdown(results: Results): string {
  const { meta } = results;
  const s = meta.settings;
  const sections: string[] = [];
  sections.push(
    `Measured ${meta.date.slice(0, 10)} on ${meta.cores} cores (${meta.cpu}), ${meta.memoryGiB} GiB, Node ${meta.node}` +
      `${meta.quick ? ' — **quick mode: not numbers to quote**' : ''}. ` +
      Object.entries(meta.versions)
        .map(([name, version]) => `${name} ${version}`)
        .join(', ') +
      '.',
  );
  if (meta.loadAverage.before > BUSY_LOAD_AVERAGE) {
    sections.push(
      `**The machine was busy** (load average ${meta.loadAverage.before.toFixed(1)} before the benchmark started): ` +
        'other processes competed for the cores, so these numbers are noisy. Run again on a quiet machine before quoting them.',
    );
  }
  const proxy = proxyTables(results);
  if (proxy.length > 0) {
    sections.push(
      `### MQTT over WebSocket through a proxy to Mosquitto\n\n` +
        `${s.proxyPairs} publisher→subscriber pairs on distinct topics, QoS 0, one MQTT packet per WebSocket frame, ` +
        `at most ${s.window} messages in flight per publisher; latency at ${s.latencyRate} msg/s. ` +
        `"mosquitto (direct ws)" is Mosquitto's own WebSocket listener with no proxy: its CPU is the broker's.`,
      ...proxy,
    );
  }
  const broker = brokerTables(results);
  if (broker.length > 0) {
    sections.push(
      `### Embedded broker\n\n` +
        `Fan-in: ${s.fan} publishers → 1 subscriber; fan-out: 1 publisher → ${s.fan} subscribers; ` +
        `${s.brokerPayload} B payloads, at most ${s.window} messages in flight per publisher; latency at ${s.latencyRate} delivered msg/s.`,
      ...broker,
    );
  }
  if (results.errors.length > 0) sections.push(`### Steps that failed\n\n${results.errors.map((e) => `- ${e}`).join('\n')}`);
  return `${sections.join('\n\n')}\n`;
}
