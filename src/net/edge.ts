import net from 'node:net';
import tls from 'node:tls';
import type http from 'node:http';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { formatEndpoint, socketAddresses, upgradeAddress, type ConnectionAddresses } from './client-address.js';
import { ConnectionLimiter, guardHandshakes, limitText } from './limits.js';
import { readProxyHeader } from './proxy-protocol.js';
import { TrustedProxies } from './trusted-proxies.js';
import type { Refusal } from './upgrade.js';

/** A client let in at the edge: where it really comes from. */
export interface EdgeAdmission {
  readonly addresses: ConnectionAddresses;
  /** `remote` for log lines: the believed client address. */
  readonly remote: string;
}

/**
 * The edge's first decisions about a new connection, before any MQTT: who it really comes from
 * (forwarding headers and PROXY headers, believed from trusted proxies only), and whether that
 * address may open another connection now. Every refusal is one log line with `remote` and `reason`.
 */
export class Edge {
  readonly limiter: ConnectionLimiter;
  private readonly trusted: TrustedProxies;
  /** Raw sockets let in by `front`, with their believed addresses (the TLS socket finds its own through its parent). */
  private readonly admitted = new WeakMap<net.Socket, ConnectionAddresses>();

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    this.trusted = new TrustedProxies(config.trustedProxies);
    this.limiter = new ConnectionLimiter(config);
  }

  /** The client address of an upgrade request as believed (through trusted proxies), for log lines. */
  remoteOf(req: http.IncomingMessage): string {
    return formatEndpoint(upgradeAddress(req, this.trusted).addresses.source);
  }

  /** Is this request's peer a trusted proxy (TRUSTED_PROXIES)? */
  fromTrustedProxy(req: http.IncomingMessage): boolean {
    return this.trusted.has(socketAddresses(req.socket).source.address);
  }

  /** A WebSocket upgrade: its client's address, or a 429 when that address is over its limits. */
  upgrade(req: http.IncomingMessage): EdgeAdmission | Refusal {
    const found = upgradeAddress(req, this.trusted);
    const peer = formatEndpoint(socketAddresses(req.socket).source);
    if (found.ignored !== undefined) {
      this.log.warn(
        { remote: peer, reason: found.ignored, forwarded: req.headers.forwarded, xForwardedFor: req.headers['x-forwarded-for'] },
        'forwarding headers ignored',
      );
    } else if (found.via !== undefined) {
      this.log.debug({ remote: formatEndpoint(found.addresses.source), peer, via: found.via }, 'client address from a trusted proxy');
    }
    const refusal = this.limit(found.addresses, req.socket);
    return refusal ?? { addresses: found.addresses, remote: formatEndpoint(found.addresses.source) };
  }

  /**
   * The server to bind for a raw MQTT listener: it reads the PROXY header when PROXY_PROTOCOL is
   * on, applies the per-address limits, then hands the socket to `server` (which is not bound
   * itself). A TLS server gets the socket before its handshake, as a PROXY header precedes TLS.
   */
  front(server: net.Server): net.Server {
    if (server instanceof tls.Server) this.guardTls(server);
    return net.createServer((socket) => {
      this.admitRaw(socket).then(
        (ok) => {
          if (!ok) return;
          server.emit('connection', socket);
          // A plain socket was left paused after its PROXY header; a TLS server reads it through its own handle.
          if (!(server instanceof tls.Server)) socket.resume();
        },
        (err: unknown) => {
          this.log.error({ err }, 'admitting a connection failed');
          socket.destroy();
        },
      );
    });
  }

  /** The believed addresses of a socket `front` let in, or of a TLS socket over one. */
  addressesOf(socket: net.Socket): EdgeAdmission {
    // TLSSocket keeps the socket it wraps as `_parent` (not in Node's types).
    const raw = (socket as net.Socket & { _parent?: net.Socket })._parent ?? socket;
    const addresses = this.admitted.get(raw) ?? socketAddresses(socket);
    return { addresses, remote: formatEndpoint(addresses.source) };
  }

  /** Slowloris: HTTP connections must finish their request head within HANDSHAKE_TIMEOUT_MS. */
  guard(server: http.Server, secure: boolean): void {
    if (secure) this.guardTls(server as unknown as tls.Server);
    guardHandshakes(server, secure, this.config.handshakeTimeoutMs, (socket) =>
      this.handshakeTimedOut(socket, `no complete request within ${this.config.handshakeTimeoutMs} ms`),
    );
  }

  /**
   * A TLS server's handshakeTimeout (set to HANDSHAKE_TIMEOUT_MS) only reports the timeout as a
   * tlsClientError; the socket stays open unless someone closes it.
   */
  private guardTls(server: tls.Server): void {
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
      if (err.code !== 'ERR_TLS_HANDSHAKE_TIMEOUT') return;
      this.handshakeTimedOut(socket, `no TLS handshake within ${this.config.handshakeTimeoutMs} ms`);
      socket.destroy();
    });
  }

  private handshakeTimedOut(socket: net.Socket, reason: string): void {
    this.limiter.handshakeTimedOut();
    this.log.info({ remote: this.addressesOf(socket).remote, reason }, 'handshake timeout');
  }

  close(): void {
    this.limiter.close();
  }

  private async admitRaw(socket: net.Socket): Promise<boolean> {
    let addresses = socketAddresses(socket);
    const remote = formatEndpoint(addresses.source);
    if (this.config.proxyProtocol) {
      let header;
      try {
        header = await readProxyHeader(socket, this.config.handshakeTimeoutMs);
      } catch (err) {
        this.log.info({ remote, reason: (err as Error).message }, 'connection refused');
        socket.destroy();
        return false;
      }
      if (header !== null && !this.trusted.has(addresses.source.address)) {
        this.log.warn({ remote, reason: `PROXY header from untrusted peer ${addresses.source.address}` }, 'PROXY header ignored');
      } else if (header?.addresses) {
        this.log.debug({ remote: formatEndpoint(header.addresses.source), peer: remote, via: `proxy-v${header.version}` }, 'client address from a trusted proxy');
        addresses = header.addresses;
      }
    }
    if (this.limit(addresses, socket) !== null) {
      socket.destroy();
      return false;
    }
    this.admitted.set(socket, addresses);
    return true;
  }

  /** Takes a place for the client's address until its socket closes, or refuses with 429. */
  private limit(addresses: ConnectionAddresses, socket: net.Socket): Refusal | null {
    const address = addresses.source.address;
    const refusal = this.limiter.admit(address);
    if (refusal !== null) {
      this.log.info({ remote: formatEndpoint(addresses.source), reason: limitText[refusal] }, 'connection refused');
      return { status: 429, reason: limitText[refusal] };
    }
    // 'close' comes once; on() spares the wrapper once() would keep for the connection's life.
    socket.on('close', () => this.limiter.release(address));
    return null;
  }
}
