import net from 'node:net';
import tls from 'node:tls';
import { disconnectPacket } from '../mqtt/codec.js';
import type { BrokerAddress, ProxyProtocolVersion } from '../config.js';
import { proxyHeaderFor } from '../net/proxy-protocol.js';
import { CloseReason, GatewayError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { ClientLink, Upstream, UpstreamSession } from './upstream.js';

export interface BridgeOptions {
  readonly broker: BrokerAddress;
  /** PEM of the CA that signs the backend's certificate (mqtts://); null: the system's CAs. */
  readonly brokerCa: Buffer | null;
  readonly connectTimeoutMs: number;
  /** How long a backend may take to close after being ended, before it is dropped. */
  readonly lingerMs: number;
  /** Counts connect latency and failures. */
  readonly metrics?: Metrics;
  /** A PROXY header (v1 or v2) before the CONNECT, naming the real client; default off. */
  readonly proxyProtocol?: ProxyProtocolVersion;
}

const READINESS_CACHE_MS = 1000;

/** DISCONNECT 0x8B (server shutting down), told to MQTT 5 clients so they reconnect elsewhere at once. */
const shutdownDisconnect = disconnectPacket(CloseReason.serverShutdown.mqtt5);

/**
 * The transparent path: one backend connection per client, bytes both ways. The backend sees an
 * ordinary MQTT client; its CONNECT is forwarded as received.
 */
export class TcpBridge implements Upstream {
  /** Shared with every session, which leaves it when its backend socket closes. */
  private readonly live: LiveSessions = { sessions: new Set(), closing: false };
  private readiness: { at: number; answer: Promise<boolean> } | undefined;

  constructor(private readonly options: BridgeOptions) {}

  open(client: ClientLink): Promise<UpstreamSession> {
    return this.openOn(this.options.broker, client);
  }

  /** A session on a chosen backend (a pool picks it); the CONNECT goes first, after the PROXY header if any. */
  async openOn(broker: BrokerAddress, client: ClientLink): Promise<UpstreamSession> {
    if (this.live.closing) throw new GatewayError('ERR_SHUTTING_DOWN', 'the gateway is shutting down');
    const socket = await this.dial(broker);
    // close() began during the dial and did not see this session: it must not start.
    if (this.live.closing) {
      socket.destroy();
      throw new GatewayError('ERR_SHUTTING_DOWN', 'the gateway is shutting down');
    }
    const session = new BridgeSession(socket, client, this.options.lingerMs, this.live);
    this.live.sessions.add(session);
    const header = proxyHeaderFor(this.options.proxyProtocol ?? 'off', client);
    socket.write(header ? Buffer.concat([header, client.connectBytes]) : client.connectBytes);
    return session;
  }

  /**
   * For /readyz. One probe answers every request for a second: a public endpoint must not let
   * anyone make the gateway open backend connections at will.
   */
  ready(): Promise<boolean> {
    const now = Date.now();
    if (this.readiness === undefined || now - this.readiness.at > READINESS_CACHE_MS) {
      this.readiness = { at: now, answer: this.reachable(this.options.broker) };
    }
    return this.readiness.answer;
  }

  /** Can a connection to this backend be made now? (A probe: not counted in the metrics.) */
  async reachable(broker: BrokerAddress): Promise<boolean> {
    try {
      (await this.dial(broker, false)).destroy();
      return true;
    } catch {
      return false;
    }
  }

  /** Ends every backend connection cleanly; each client is closed when its backend has closed. */
  async close(): Promise<void> {
    this.live.closing = true;
    const { sessions } = this.live;
    const closed = [...sessions].map((session) => session.whenClosed());
    for (const session of sessions) session.end();
    await Promise.all(closed);
  }

  /** Connects to the backend, or rejects within connectTimeoutMs. */
  private dial(broker: BrokerAddress, counted = true): Promise<net.Socket> {
    const { brokerCa, connectTimeoutMs } = this.options;
    const metrics = counted ? this.options.metrics : undefined;
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const socket = broker.tls
        ? tls.connect({ host: broker.host, port: broker.port, servername: serverName(broker.host), ...(brokerCa && { ca: brokerCa }) })
        : net.connect({ host: broker.host, port: broker.port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        metrics?.backendConnectFailed('timeout');
        reject(new GatewayError('ERR_BACKEND_TIMEOUT', `no connection to ${broker.host}:${broker.port} within ${connectTimeoutMs} ms`));
      }, connectTimeoutMs).unref();
      socket.once(broker.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        metrics?.backendConnected((performance.now() - started) / 1000);
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        metrics?.backendConnectFailed('unreachable');
        reject(new GatewayError('ERR_BACKEND_UNREACHABLE', `backend ${broker.host}:${broker.port}: ${err.message}`, { cause: err }));
      });
    });
  }
}

/** SNI carries host names only, never IP addresses (RFC 6066 §3). */
function serverName(host: string): string | undefined {
  return net.isIP(host) ? undefined : host;
}

/** A bridge's open sessions, and whether it is closing (sessions that end then say the server is shutting down). */
interface LiveSessions {
  readonly sessions: Set<BridgeSession>;
  closing: boolean;
}

class BridgeSession implements UpstreamSession {
  private lingerTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: net.Socket,
    client: ClientLink,
    private readonly lingerMs: number,
    live: LiveSessions,
  ) {
    socket.on('data', (chunk: Buffer) => {
      if (!client.send(chunk)) socket.pause();
    });
    client.onDrain(() => socket.resume());
    socket.on('error', (err) => client.log.warn({ reason: err.message }, 'backend connection error'));
    // Whatever the backend sent has been passed to the client before 'close'; the client flushes it, then closes.
    socket.on('close', (hadError) => {
      clearTimeout(this.lingerTimer);
      live.sessions.delete(this);
      if (live.closing) {
        if (client.connect.protocolVersion === 5) client.send(shutdownDisconnect);
        client.close('serverShutdown');
      } else {
        client.close(hadError ? 'backendLost' : 'backendClosed');
      }
    });
  }

  whenClosed(): Promise<void> {
    if (this.socket.closed) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  write(packet: Buffer): boolean {
    return this.socket.write(packet);
  }

  onDrain(listener: () => void): void {
    this.socket.on('drain', listener);
  }

  /** The packets of one client read go to the backend in one write. */
  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  end(): void {
    if (this.lingerTimer) return;
    this.socket.end();
    this.lingerTimer = setTimeout(() => this.socket.destroy(), this.lingerMs).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
