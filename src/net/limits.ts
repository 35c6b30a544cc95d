import type http from 'node:http';
import type net from 'node:net';

export interface LimitOptions {
  /** Open connections allowed from one address; 0: no limit. */
  readonly maxConnectionsPerIp: number;
  /** New connections per second from one address, on average; 0: no limit. */
  readonly connectionRatePerIp: number;
  /** New connections one address may open at once before the rate applies. */
  readonly connectionBurstPerIp: number;
  /** For tests: the clock, in ms. */
  readonly now?: () => number;
}

/** Why the limiter refused; also the counter it increments. */
export type LimitRefusal = 'perIpConnections' | 'perIpRate';

export const limitText: Record<LimitRefusal, string> = {
  perIpConnections: 'too many connections from this address',
  perIpRate: 'too many new connections per second from this address',
};

/** Counts at the edge, for logs and the metrics page; read with `snapshot()`. */
export interface EdgeCounts {
  admitted: number;
  perIpConnections: number;
  perIpRate: number;
  handshakeTimeouts: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** How often full buckets are forgotten, so addresses seen once do not stay in memory. */
const SWEEP_INTERVAL_MS = 10_000;

/**
 * Per-address admission: a cap on open connections, and a token bucket on new ones (each address
 * may open `burst` at once, then `rate` per second). Addresses are the believed client addresses,
 * so clients behind one trusted load balancer are not counted as one.
 */
export class ConnectionLimiter {
  private readonly open = new Map<string, number>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly counts: EdgeCounts = { admitted: 0, perIpConnections: 0, perIpRate: 0, handshakeTimeouts: 0 };
  private readonly now: () => number;
  private readonly sweeper: NodeJS.Timeout | undefined;
  /** Called on every refusal (for metrics); the counts are kept either way. */
  onRefused: ((refusal: LimitRefusal, address: string) => void) | undefined;

  constructor(private readonly options: LimitOptions) {
    this.now = options.now ?? Date.now;
    if (options.connectionRatePerIp > 0) {
      this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();
    }
  }

  /** Takes a place for a new connection from `address`, or says why not. Pair each success with release(). */
  admit(address: string): LimitRefusal | null {
    const { maxConnectionsPerIp, connectionRatePerIp } = this.options;
    const open = this.open.get(address) ?? 0;
    if (maxConnectionsPerIp > 0 && open >= maxConnectionsPerIp) return this.refuse('perIpConnections', address);
    if (connectionRatePerIp > 0 && !this.takeToken(address)) return this.refuse('perIpRate', address);
    this.open.set(address, open + 1);
    this.counts.admitted++;
    return null;
  }

  release(address: string): void {
    const open = (this.open.get(address) ?? 0) - 1;
    if (open > 0) this.open.set(address, open);
    else this.open.delete(address);
  }

  /** Open connections from this address (as admitted). */
  openFrom(address: string): number {
    return this.open.get(address) ?? 0;
  }

  handshakeTimedOut(): void {
    this.counts.handshakeTimeouts++;
  }

  snapshot(): Readonly<EdgeCounts> {
    return { ...this.counts };
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private refuse(refusal: LimitRefusal, address: string): LimitRefusal {
    this.counts[refusal]++;
    this.onRefused?.(refusal, address);
    return refusal;
  }

  private takeToken(address: string): boolean {
    const { connectionRatePerIp: rate, connectionBurstPerIp: burst } = this.options;
    const now = this.now();
    const bucket = this.buckets.get(address) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate);
    bucket.at = now;
    this.buckets.set(address, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** A bucket that has refilled is the same as no bucket. */
  private sweep(): void {
    const { connectionRatePerIp: rate, connectionBurstPerIp: burst } = this.options;
    const now = this.now();
    for (const [address, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * rate >= burst) this.buckets.delete(address);
    }
  }
}

/**
 * Closes HTTP connections that have not finished their first request head within `timeoutMs`
 * (slowloris: a client trickling a partial upgrade request to hold a socket). Node's own
 * headersTimeout applies too, but it is checked only every connectionsCheckingInterval (30 s).
 * On HTTPS the clock starts after the TLS handshake, which the server's handshakeTimeout bounds.
 */
export function guardHandshakes(
  server: http.Server,
  tlsServer: boolean,
  timeoutMs: number,
  onTimeout: (socket: net.Socket) => void,
): void {
  const timers = new WeakMap<net.Socket, NodeJS.Timeout>();
  const start = (socket: net.Socket): void => {
    // No 'close' listener to clear it: that would stay on every connection for its whole life.
    const timer = setTimeout(() => {
      timers.delete(socket);
      if (socket.destroyed) return;
      onTimeout(socket);
      socket.destroy();
    }, timeoutMs).unref();
    timers.set(socket, timer);
  };
  const stop = (req: http.IncomingMessage): void => {
    clearTimeout(timers.get(req.socket));
    timers.delete(req.socket);
  };
  server.on(tlsServer ? 'secureConnection' : 'connection', start);
  server.on('request', stop);
  server.on('upgrade', stop);
}
