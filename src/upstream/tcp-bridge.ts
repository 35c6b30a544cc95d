import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';
import mqttPacket from 'mqtt-packet';
import type { BrokerAddress } from '../config.js';
import { CloseReason, GatewayError } from '../errors.js';
import type { ClientLink, Upstream, UpstreamSession } from './upstream.js';

export interface BridgeOptions {
  readonly broker: BrokerAddress;
  /** PEM of the CA that signs the backend's certificate (mqtts://); null: the system's CAs. */
  readonly brokerCa: Buffer | null;
  readonly connectTimeoutMs: number;
  /** How long a backend may take to close after being ended, before it is dropped. */
  readonly lingerMs: number;
}

/** DISCONNECT 0x8B (server shutting down), told to MQTT 5 clients so they reconnect elsewhere at once. */
const shutdownDisconnect = mqttPacket.generate(
  { cmd: 'disconnect', reasonCode: CloseReason.serverShutdown.mqtt5 },
  { protocolVersion: 5 },
);

/**
 * The transparent path: one backend connection per client, bytes both ways. The backend sees an
 * ordinary MQTT client; its CONNECT is forwarded as received.
 */
export class TcpBridge implements Upstream {
  private readonly sessions = new Set<BridgeSession>();
  private closing = false;

  constructor(private readonly options: BridgeOptions) {}

  static fromConfig(options: Omit<BridgeOptions, 'brokerCa'> & { brokerCaPath: string | null }): TcpBridge {
    const brokerCa = options.brokerCaPath === null ? null : fs.readFileSync(options.brokerCaPath);
    return new TcpBridge({ ...options, brokerCa });
  }

  async open(client: ClientLink): Promise<UpstreamSession> {
    if (this.closing) throw new GatewayError('ERR_SHUTTING_DOWN', 'the gateway is shutting down');
    const socket = await this.dial();
    const session = new BridgeSession(socket, client, this.options.lingerMs, () => this.closing);
    this.sessions.add(session);
    socket.once('close', () => this.sessions.delete(session));
    socket.write(client.connectBytes);
    return session;
  }

  async ready(): Promise<boolean> {
    try {
      (await this.dial()).destroy();
      return true;
    } catch {
      return false;
    }
  }

  /** Ends every backend connection cleanly; each client is closed when its backend has closed. */
  async close(): Promise<void> {
    this.closing = true;
    const closed = [...this.sessions].map((session) => session.closed);
    for (const session of this.sessions) session.end();
    await Promise.all(closed);
  }

  /** Connects to the backend, or rejects within connectTimeoutMs. */
  private dial(): Promise<net.Socket> {
    const { broker, brokerCa, connectTimeoutMs } = this.options;
    return new Promise((resolve, reject) => {
      const socket = broker.tls
        ? tls.connect({ host: broker.host, port: broker.port, servername: serverName(broker.host), ...(brokerCa && { ca: brokerCa }) })
        : net.connect({ host: broker.host, port: broker.port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new GatewayError('ERR_BACKEND_TIMEOUT', `no connection to ${broker.host}:${broker.port} within ${connectTimeoutMs} ms`));
      }, connectTimeoutMs).unref();
      socket.once(broker.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new GatewayError('ERR_BACKEND_UNREACHABLE', `backend ${broker.host}:${broker.port}: ${err.message}`, { cause: err }));
      });
    });
  }
}

/** SNI carries host names only, never IP addresses (RFC 6066 §3). */
function serverName(host: string): string | undefined {
  return net.isIP(host) ? undefined : host;
}

class BridgeSession implements UpstreamSession {
  readonly closed: Promise<void>;
  private lingerTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly client: ClientLink,
    private readonly lingerMs: number,
    shuttingDown: () => boolean,
  ) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      if (!client.send(chunk)) socket.pause();
    });
    client.onDrain(() => socket.resume());
    socket.on('error', (err) => client.log.warn({ reason: err.message }, 'backend connection error'));
    // Whatever the backend sent has been passed to the client before 'close'; the client flushes it, then closes.
    socket.on('close', (hadError) => {
      clearTimeout(this.lingerTimer);
      if (shuttingDown()) {
        if (client.connect.protocolVersion === 5) client.send(shutdownDisconnect);
        client.close('serverShutdown');
      } else {
        client.close(hadError ? 'backendLost' : 'backendClosed');
      }
    });
  }

  write(packet: Buffer): boolean {
    return this.socket.write(packet);
  }

  onDrain(listener: () => void): void {
    this.socket.on('drain', listener);
  }

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
