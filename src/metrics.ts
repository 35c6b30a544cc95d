import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { PacketType } from './mqtt/framer.js';
import type { Transport } from './upstream/upstream.js';

/** Why a client was turned away before it could speak MQTT (the WebSocket handshake, TLS or the listener). */
export type HandshakeRefusal = 'path' | 'malformed' | 'origin' | 'subprotocol' | 'header_size' | 'limit' | 'tls' | 'auth';

/**
 * What became of a client's CONNECT; `refused` carries a reason (a CONNACK code name, or why the
 * connection closed before a CONNACK); `abandoned`: the client left before its CONNACK.
 */
export type ConnectOutcome = 'accepted' | 'refused' | 'timeout' | 'not_connect' | 'abandoned';

export type BackendFailure = 'timeout' | 'unreachable';

/**
 * What the gateway counts, said in its own words; the Prometheus names live only in the
 * implementation. One instance per gateway, so tests read their own numbers.
 */
export interface Metrics {
  /** Content-Type of the text `scrape()` returns. */
  readonly contentType: string;
  /** Every metric in the Prometheus text format. */
  scrape(): Promise<string>;
  connectionOpened(listener: Transport): void;
  connectionClosed(listener: Transport): void;
  handshakeRefused(reason: HandshakeRefusal): void;
  /** The close code of a WebSocket connection, as it ended. */
  webSocketClosed(code: number): void;
  connectOutcome(outcome: ConnectOutcome, reason?: string): void;
  /** Where one listener's traffic is counted; fetched once per connection, added to per chunk. */
  traffic(listener: Transport): Traffic;
  backendConnected(seconds: number): void;
  backendConnectFailed(reason: BackendFailure): void;
  tlsReloaded(result: 'ok' | 'refused'): void;
  /** When each certificate in service expires, by SNI server name ('default': no SNI match). */
  tlsCertificates(notAfter: ReadonlyMap<string, Date>): void;
}

/**
 * The refusal an upgrade's HTTP status stands for (the upgrade guards answer each check with its
 * own status: 403 origin, 503 or 429 limits, 400 subprotocol, 401 credentials, 404 path, 431 headers).
 */
export function handshakeRefusalFor(status: number): HandshakeRefusal {
  switch (status) {
    case 401:
      return 'auth';
    case 403:
      return 'origin';
    case 404:
      return 'path';
    case 431:
      return 'header_size';
    case 429:
    case 503:
      return 'limit';
    default:
      return 'subprotocol';
  }
}

const PREFIX = 'mqtt_gateway_';
const LISTENERS: readonly Transport[] = ['ws', 'wss', 'tcp', 'tls'];
const HANDSHAKE_REFUSALS: readonly HandshakeRefusal[] = ['path', 'malformed', 'origin', 'subprotocol', 'header_size', 'limit', 'tls', 'auth'];
const PACKET_NAMES: Record<number, string> = Object.fromEntries(Object.entries(PacketType).map(([name, type]) => [type, name]));
const BACKEND_CONNECT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Close codes clients may choose (3000–4999) are grouped, so a client cannot invent label values. */
function closeCodeLabel(code: number): string {
  if (code >= 1000 && code <= 1015) return String(code);
  if (code >= 3000 && code <= 3999) return '3xxx';
  if (code >= 4000 && code <= 4999) return '4xxx';
  return 'other';
}

/** A number to add to on a hot path; its sum goes to prom-client when it collects. */
export interface Cell {
  value: number;
}

/** The counters of one listener's traffic: bytes each way, and packets from clients by type (0-15). */
export interface Traffic {
  readonly bytesIn: Cell;
  readonly bytesOut: Cell;
  readonly packetsIn: readonly Cell[];
}

/**
 * A counter bumped on every chunk would hash its labels each time; its cells are plain numbers,
 * made once per label set, and handed to prom-client when it collects.
 */
class HotCounter {
  private readonly cells: { labels: Record<string, string>; cell: Cell }[] = [];

  constructor(readonly counter: Counter<string>) {}

  cell(labels: Record<string, string>): Cell {
    const cell = { value: 0 };
    this.cells.push({ labels, cell });
    return cell;
  }

  flush(): void {
    for (const { labels, cell } of this.cells) {
      if (cell.value === 0) continue;
      this.counter.inc(labels, cell.value);
      cell.value = 0;
    }
  }
}

/** Creates the gateway's metrics on a registry of their own, with Node's process and event-loop metrics. */
export function createMetrics(): Metrics & { readonly registry: Registry } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const open = new Gauge({
    name: `${PREFIX}connections_open`,
    help: 'Client connections open now, by listener (ws, wss, tcp, tls).',
    labelNames: ['listener'],
    registers,
  });
  const accepted = new Counter({
    name: `${PREFIX}connections_total`,
    help: 'Client connections accepted, by listener.',
    labelNames: ['listener'],
    registers,
  });
  const refused = new Counter({
    name: `${PREFIX}handshakes_refused_total`,
    help: 'Clients turned away before MQTT: path, malformed (not a WebSocket handshake), origin, subprotocol, header_size, limit, tls, auth.',
    labelNames: ['reason'],
    registers,
  });
  const wsCloses = new Counter({
    name: `${PREFIX}websocket_closes_total`,
    help: 'WebSocket connections closed, by the code of the first close frame sent or received (1006: none; 3xxx and 4xxx grouped).',
    labelNames: ['code'],
    registers,
  });
  const connects = new Counter({
    name: `${PREFIX}connects_total`,
    help: 'CONNECT outcomes: accepted, refused (with reason), timeout, not_connect, abandoned.',
    labelNames: ['outcome', 'reason'],
    registers,
  });
  // Hot paths: counted in plain numbers, handed over when scraped.
  const bytes: HotCounter = new HotCounter(
    new Counter({
      name: `${PREFIX}bytes_total`,
      help: 'Bytes of MQTT carried, by direction (in: from clients, out: to clients) and listener.',
      labelNames: ['direction', 'listener'],
      registers,
      collect: () => bytes.flush(),
    }),
  );
  const packets: HotCounter = new HotCounter(
    new Counter({
      name: `${PREFIX}packets_total`,
      help: 'MQTT packets, by direction and packet type (in: framed from clients).',
      labelNames: ['direction', 'type'],
      registers,
      collect: () => packets.flush(),
    }),
  );
  // Packets are counted by type only, whatever the listener: one set of cells serves every listener.
  const packetsIn = Array.from({ length: 16 }, (_, type) => packets.cell({ direction: 'in', type: PACKET_NAMES[type] ?? 'reserved' }));
  const traffic = new Map<Transport, Traffic>();
  const backendLatency = new Histogram({
    name: `${PREFIX}backend_connect_seconds`,
    help: 'Time to open a connection to the backend broker (TCP, or TCP + TLS).',
    buckets: BACKEND_CONNECT_BUCKETS,
    registers,
  });
  const backendFailures = new Counter({
    name: `${PREFIX}backend_connect_failures_total`,
    help: 'Backend connections that failed: timeout or unreachable.',
    labelNames: ['reason'],
    registers,
  });
  const tlsReloads = new Counter({
    name: `${PREFIX}tls_reloads_total`,
    help: 'Certificate reloads after the files changed: ok, or refused (the old certificate stays).',
    labelNames: ['result'],
    registers,
  });
  const tlsExpiry = new Gauge({
    name: `${PREFIX}tls_certificate_not_after_seconds`,
    help: 'Expiry (Unix time) of the certificate in service, by SNI server name (default: no SNI match).',
    labelNames: ['servername'],
    registers,
  });

  // Known series start at zero, so rates and alerts work before the first event.
  for (const listener of LISTENERS) {
    open.set({ listener }, 0);
    accepted.inc({ listener }, 0);
  }
  for (const reason of HANDSHAKE_REFUSALS) refused.inc({ reason }, 0);
  for (const outcome of ['accepted', 'timeout', 'not_connect'] as const) connects.inc({ outcome }, 0);
  for (const reason of ['timeout', 'unreachable'] as const) backendFailures.inc({ reason }, 0);
  for (const result of ['ok', 'refused'] as const) tlsReloads.inc({ result }, 0);

  return {
    registry,
    contentType: registry.contentType,
    scrape: () => registry.metrics(),
    connectionOpened(listener) {
      open.inc({ listener });
      accepted.inc({ listener });
    },
    connectionClosed(listener) {
      open.dec({ listener });
    },
    handshakeRefused(reason) {
      refused.inc({ reason });
    },
    webSocketClosed(code) {
      wsCloses.inc({ code: closeCodeLabel(code) });
    },
    connectOutcome(outcome, reason) {
      connects.inc(reason === undefined ? { outcome } : { outcome, reason });
    },
    traffic(listener) {
      let found = traffic.get(listener);
      if (found === undefined) {
        found = { bytesIn: bytes.cell({ direction: 'in', listener }), bytesOut: bytes.cell({ direction: 'out', listener }), packetsIn };
        traffic.set(listener, found);
      }
      return found;
    },
    backendConnected(seconds) {
      backendLatency.observe(seconds);
    },
    backendConnectFailed(reason) {
      backendFailures.inc({ reason });
    },
    tlsReloaded(result) {
      tlsReloads.inc({ result });
    },
    tlsCertificates(notAfter) {
      tlsExpiry.reset();
      for (const [servername, date] of notAfter) tlsExpiry.set({ servername }, Math.floor(date.getTime() / 1000));
    },
  };
}
