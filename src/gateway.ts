import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { Connection } from './connection.js';
import { createHttpRoutes, type HttpRoutes } from './net/http-routes.js';
import { checkUpgrade, chooseSubprotocol, offeredSubprotocols, refuseUpgrade, switchProtocols } from './net/upgrade.js';
import { remoteAddress, SocketClient, type ClientStream } from './net/client-stream.js';
import { WebSocketClient } from './net/websocket-client.js';
import { DeflateWebSocketClient } from './net/deflate-websocket-client.js';
import { listen } from './net/listen.js';
import { peerCertificateSubject } from './tls/certificates.js';
import { createMetrics, handshakeRefusalFor, type Metrics } from './metrics.js';
import { perMessageDeflate } from './net/compression.js';
import { loadWebPage } from './net/web-page.js';
import { TlsReloader } from './tls/reload.js';
import type { Upstream } from './upstream/upstream.js';
import { embeddedBroker } from './broker/embedded.js';
import { backendNames, backendUpstream } from './upstream/backend.js';
import { Edge } from './net/edge.js';
import { Heartbeat } from './net/ws-heartbeat.js';
import { IdentityPolicy, type Identity } from './auth/identity.js';

/** The ports actually bound (null: that listener is off). */
export interface BoundPorts {
  http: number | null;
  https: number | null;
  mqtt: number | null;
  mqtts: number | null;
  metrics: number | null;
}

export interface GatewayOptions {
  /** Where the gateway counts what it does; by default a registry of its own. */
  readonly metrics?: Metrics;
  /** Serves the clients instead of the upstream the configuration names (tests inspect a broker this way). */
  readonly upstream?: Upstream;
}

/**
 * Wires the listeners to the upstream: HTTP and HTTPS carry WebSocket upgrades on the MQTT paths
 * (and health, readiness and pass-through requests); MQTT and MQTTS carry raw MQTT. Every client
 * becomes a Connection joined to the one upstream.
 */
export class Gateway {
  private readonly connections = new Set<Connection>();
  /** Resolved when the last connection has closed (during shutdown). */
  private onEmpty: (() => void) | undefined;
  private readonly servers: net.Server[] = [];
  /** The ws library serves the WebSockets that negotiate permessage-deflate; the others are read directly. */
  private readonly deflate: WebSocketServer | undefined;
  private readonly heartbeat: Heartbeat;
  private readonly routes: HttpRoutes;
  private nextConn = 0;
  private tls: TlsReloader | undefined;
  readonly ports: BoundPorts = { http: null, https: null, mqtt: null, mqtts: null, metrics: null };
  /** Client addresses, per-address limits and handshake timeouts (its limiter counts refusals). */
  readonly edge: Edge;
  private readonly identity: IdentityPolicy;

  private constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly upstream: Upstream,
    readonly metrics: Metrics,
  ) {
    this.edge = new Edge(config, log);
    this.edge.limiter.onRefused = () => metrics.handshakeRefused('limit');
    this.identity = IdentityPolicy.fromConfig(config);
    this.deflate = config.wsCompression
      ? new WebSocketServer({
          noServer: true,
          clientTracking: false,
          perMessageDeflate: perMessageDeflate(),
          maxPayload: config.maxPacketSize,
          handleProtocols: (offered) => chooseSubprotocol(offered) ?? false,
        })
      : undefined;
    this.heartbeat = new Heartbeat(config.wsPingIntervalMs);
    this.routes = createHttpRoutes({
      httpUpstream: config.httpUpstream,
      ready: () => upstream.ready(),
      log,
      metrics,
      metricsHere: config.metricsPort === null,
      wsPaths: config.wsPaths,
      allowedOrigins: config.allowedOrigins,
      webPage: config.webPage ? loadWebPage(log) : null,
      redirect: config.httpRedirectHttps ? { httpsPort: () => this.ports.https, mqtt: config.httpRedirectMqtt } : null,
      fromTrustedProxy: (req) => this.edge.fromTrustedProxy(req),
    });
  }

  static async start(config: Config, log: Logger, options: GatewayOptions = {}): Promise<Gateway> {
    const metrics = options.metrics ?? createMetrics();
    const upstream: Upstream =
      options.upstream ?? (config.broker ? backendUpstream(config, log, metrics) : embeddedBroker(config, log));
    const gateway = new Gateway(config, log, upstream, metrics);
    try {
      await gateway.listen();
    } catch (err) {
      await gateway.close();
      throw err;
    }
    const broker = backendNames(config);
    log.info({ ports: gateway.ports, broker, wsPaths: config.wsPaths }, 'gateway started');
    return gateway;
  }

  private async listen(): Promise<void> {
    const { config } = this;
    const needsTls = config.httpsPort !== null || config.mqttsPort !== null;
    this.tls = needsTls
      ? TlsReloader.start({
          files: { certPath: config.tlsCert, keyPath: config.tlsKey, caPath: config.tlsCa, certsDir: config.certsDir },
          clientAuth: config.tlsClientAuth,
          minVersion: config.tlsMinVersion,
          log: this.log,
          metrics: this.metrics,
          watch: config.tlsReload,
          debounceMs: config.tlsReloadDebounceMs,
        })
      : undefined;
    const tlsOptions = { ...this.tls?.serverOptions, handshakeTimeout: config.handshakeTimeoutMs };
    const bind = async (server: net.Server, port: number | null, variable: string, name: keyof BoundPorts) => {
      if (port === null) return;
      this.servers.push(server);
      this.ports[name] = await listen(server, port, config.host, variable);
      this.log.info({ listener: name, port: this.ports[name] }, 'listening');
    };
    const httpOptions = { maxHeaderSize: config.maxHeaderBytes };
    await bind(this.webServer(http.createServer(httpOptions), 'ws'), config.httpPort, 'HTTP_PORT', 'http');
    const httpsServer = https.createServer({ ...httpOptions, ...tlsOptions });
    this.tls?.attach(httpsServer);
    await bind(this.webServer(httpsServer, 'wss'), config.httpsPort, 'HTTPS_PORT', 'https');
    await bind(this.edge.front(net.createServer((socket) => this.acceptSocket(socket, 'tcp'))), config.mqttPort, 'MQTT_PORT', 'mqtt');
    const mqttsServer = tls.createServer(tlsOptions, (socket) => this.acceptSocket(socket, 'tls'));
    mqttsServer.on('tlsClientError', (err: Error) => this.onTlsClientError(err));
    this.tls?.attach(mqttsServer);
    await bind(this.edge.front(mqttsServer), config.mqttsPort, 'MQTTS_PORT', 'mqtts');
    const metricsServer = http.createServer((req, res) => this.routes.metricsRequest(req, res));
    await bind(metricsServer, config.metricsPort, 'METRICS_PORT', 'metrics');
  }

  private webServer(server: http.Server, transport: 'ws' | 'wss'): http.Server {
    server.on('request', (req, res) => this.routes.request(req, res));
    server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head, transport));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
      if (tooLarge) this.metrics.handshakeRefused('header_size');
      this.log.debug({ reason: err.message }, 'bad HTTP request');
      refuseUpgrade(socket, tooLarge ? { status: 431, reason: 'request headers too large' } : { status: 400, reason: 'bad request' });
    });
    server.on('tlsClientError', (err: Error) => this.onTlsClientError(err));
    this.edge.guard(server, transport === 'wss');
    return server;
  }

  private onTlsClientError(err: Error): void {
    this.metrics.handshakeRefused('tls');
    this.log.debug({ reason: err.message }, 'TLS handshake failed');
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, transport: 'ws' | 'wss'): void {
    if (transport === 'ws' && this.routes.redirectUpgrade(req, socket)) return;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (!this.config.wsPaths.includes(path)) return this.routes.otherUpgrade(req, socket, head);
    const refusal = checkUpgrade(req, {
      allowedOrigins: this.config.allowedOrigins,
      requireSubprotocol: this.config.requireSubprotocol,
      atCapacity: () => this.atCapacity(),
    });
    if (refusal) {
      this.log.info({ remote: this.edge.remoteOf(req), reason: refusal.reason, status: refusal.status }, 'upgrade refused');
      this.metrics.handshakeRefused(refusal.malformed ? 'malformed' : handshakeRefusalFor(refusal.status));
      return refuseUpgrade(socket, refusal);
    }
    const admitted = this.edge.upgrade(req);
    if ('status' in admitted) return refuseUpgrade(socket, admitted);
    const peer = req.socket instanceof tls.TLSSocket ? peerCertificateSubject(req.socket) : undefined;
    // Nothing listens for socket errors between the 'upgrade' event and handleUpgrade.
    const onError = (): void => void socket.destroy();
    socket.on('error', onError);
    void this.identity.handshake(req, peer).then((auth) => {
      if (auth.refusal) {
        this.log.info({ remote: admitted.remote, reason: auth.refusal.reason, status: auth.refusal.status }, 'upgrade refused');
        this.metrics.handshakeRefused(handshakeRefusalFor(auth.refusal.status));
        return refuseUpgrade(socket, auth.refusal);
      }
      socket.off('error', onError);
      // Gone while its credentials were checked: there is nobody to answer.
      if (socket.destroyed) return;
      const info = { transport, remote: admitted.remote, addresses: admitted.addresses, peerCertificateSubject: peer };
      if (this.deflate && offersDeflate(req)) {
        this.deflate.handleUpgrade(req, socket, head, (ws: WebSocket) => this.acceptWebSocket(new DeflateWebSocketClient(ws, info), auth.identity));
        return;
      }
      switchProtocols(socket, req, chooseSubprotocol(offeredSubprotocols(req)));
      (socket as net.Socket).setNoDelay(true);
      this.acceptWebSocket(new WebSocketClient(socket as net.Socket, head, this.config.maxPacketSize, info), auth.identity);
    }, (err: unknown) => {
      // A bug in a check must cost this one handshake, never the process.
      this.log.error({ remote: admitted.remote, err }, 'upgrade check failed');
      refuseUpgrade(socket, { status: 500, reason: 'internal error' });
    });
  }

  // A method of its own, so that the closures a live connection keeps do not hold the upgrade
  // request (headers, parser state) for the connection's whole life.
  private acceptWebSocket(client: WebSocketClient | DeflateWebSocketClient, identity: Identity | null): void {
    this.accept(client, identity);
    this.heartbeat.watch(client);
  }

  private acceptSocket(socket: net.Socket, transport: 'tcp' | 'tls'): void {
    if (this.atCapacity()) {
      this.log.info({ remote: remoteAddress(socket), reason: 'connection limit reached' }, 'connection refused');
      this.metrics.handshakeRefused('limit');
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const peer = socket instanceof tls.TLSSocket ? peerCertificateSubject(socket) : undefined;
    this.accept(new SocketClient(socket, { transport, ...this.edge.addressesOf(socket), peerCertificateSubject: peer }), null);
  }

  private accept(client: ClientStream, identity: Identity | null): Connection {
    const connection = new Connection(client, {
      conn: (++this.nextConn).toString(36),
      upstream: this.upstream,
      maxPacketSize: this.config.maxPacketSize,
      maxPreAuthPacketSize: this.config.maxPreAuthPacketSize,
      admit: this.identity.admitter(identity, client.peerCertificateSubject, this.pingsBeatIdleTimeout(client.transport)),
      connectTimeoutMs: this.config.connectTimeoutMs,
      log: this.log,
      metrics: this.metrics,
      onClosed: (closed) => {
        this.metrics.connectionClosed(client.transport);
        if (client.closeCode !== undefined) this.metrics.webSocketClosed(client.closeCode);
        this.heartbeat.forget(client);
        this.connections.delete(closed);
        if (this.connections.size === 0) this.onEmpty?.();
      },
    });
    this.connections.add(connection);
    this.metrics.connectionOpened(client.transport);
    return connection;
  }

  /** WebSocket clients are pinged often enough that no proxy in front sees them idle. */
  private pingsBeatIdleTimeout(transport: ClientStream['transport']): boolean {
    const { wsPingIntervalMs, proxyIdleTimeoutS } = this.config;
    const webSocket = transport === 'ws' || transport === 'wss';
    return webSocket && wsPingIntervalMs > 0 && (proxyIdleTimeoutS === 0 || wsPingIntervalMs < proxyIdleTimeoutS * 1000);
  }

  private atCapacity(): boolean {
    return this.connections.size >= this.config.maxConnections;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Graceful stop: no new clients; each client's bytes already read are delivered, then the
   * upstream closes every session cleanly (WebSockets close with 1001). After shutdownTimeoutMs
   * whatever is left is dropped.
   */
  async close(): Promise<void> {
    const stopped = this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
    for (const connection of this.connections) connection.shutdown();
    const deadline = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), this.config.shutdownTimeoutMs).unref(),
    );
    const drained = Promise.all([this.upstream.close(), this.allClosed()]);
    if ((await Promise.race([drained, deadline])) === 'timeout') {
      this.log.warn({ open: this.connections.size }, 'shutdown timeout: dropping the remaining connections');
      for (const connection of this.connections) connection.destroy();
    }
    this.routes.close();
    this.heartbeat.close();
    this.tls?.close();
    this.edge.close();
    for (const server of this.servers) if (server instanceof http.Server) server.closeAllConnections();
    await Promise.all(stopped);
  }

  private allClosed(): Promise<void> {
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.onEmpty = resolve));
  }
}

function offersDeflate(req: http.IncomingMessage): boolean {
  return /permessage-deflate/i.test(req.headers['sec-websocket-extensions'] ?? '');
}
