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
import { checkUpgrade, chooseSubprotocol, refuseUpgrade } from './net/upgrade.js';
import { remoteAddress, socketClient, webSocketClient, type ClientStream } from './net/client-stream.js';
import { listen } from './net/listen.js';
import { loadTlsMaterial, peerCertificateSubject, tlsServerOptions } from './tls/certificates.js';
import type { Upstream } from './upstream/upstream.js';
import { TcpBridge } from './upstream/tcp-bridge.js';
import { createEmbeddedBroker } from './upstream/embedded.js';

/** The ports actually bound (null: that listener is off). */
export interface BoundPorts {
  http: number | null;
  https: number | null;
  mqtt: number | null;
  mqtts: number | null;
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
  private readonly wss: WebSocketServer;
  private readonly routes: HttpRoutes;
  private nextConn = 0;
  readonly ports: BoundPorts = { http: null, https: null, mqtt: null, mqtts: null };

  private constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly upstream: Upstream,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: config.maxPacketSize,
      handleProtocols: (offered) => chooseSubprotocol(offered) ?? false,
    });
    this.routes = createHttpRoutes({ httpUpstream: config.httpUpstream, ready: () => upstream.ready(), log });
  }

  static async start(config: Config, log: Logger): Promise<Gateway> {
    const upstream: Upstream = config.broker
      ? TcpBridge.fromConfig({
          broker: config.broker,
          brokerCaPath: config.brokerCa,
          connectTimeoutMs: config.brokerConnectTimeoutMs,
          lingerMs: config.shutdownTimeoutMs,
        })
      : createEmbeddedBroker({
          log,
          maxPacketSize: config.maxPacketSize,
          maxQueuedMessages: config.maxQueuedMessages,
          maxInflightMessages: config.maxInflightMessages,
          authFile: config.authFile,
          aclFile: config.aclFile,
        });
    const gateway = new Gateway(config, log, upstream);
    try {
      await gateway.listen();
    } catch (err) {
      await gateway.close();
      throw err;
    }
    const broker = config.broker ? `${config.broker.tls ? 'mqtts' : 'mqtt'}://${config.broker.host}:${config.broker.port}` : 'embedded';
    log.info({ ports: gateway.ports, broker, wsPaths: config.wsPaths }, 'gateway started');
    return gateway;
  }

  private async listen(): Promise<void> {
    const { config } = this;
    const needsTls = config.httpsPort !== null || config.mqttsPort !== null;
    const tlsOptions = needsTls
      ? tlsServerOptions(
          loadTlsMaterial(
            { certPath: config.tlsCert, keyPath: config.tlsKey, caPath: config.tlsCa, certsDir: config.certsDir },
            this.log,
          ),
          { clientAuth: config.tlsClientAuth, minVersion: config.tlsMinVersion },
        )
      : {};
    const bind = async (server: net.Server, port: number | null, variable: string, name: keyof BoundPorts) => {
      if (port === null) return;
      this.servers.push(server);
      this.ports[name] = await listen(server, port, config.host, variable);
      this.log.info({ listener: name, port: this.ports[name] }, 'listening');
    };
    const httpOptions = { maxHeaderSize: config.maxHeaderBytes };
    await bind(this.webServer(http.createServer(httpOptions), 'ws'), config.httpPort, 'HTTP_PORT', 'http');
    await bind(this.webServer(https.createServer({ ...httpOptions, ...tlsOptions }), 'wss'), config.httpsPort, 'HTTPS_PORT', 'https');
    await bind(net.createServer((socket) => this.acceptSocket(socket, 'tcp')), config.mqttPort, 'MQTT_PORT', 'mqtt');
    await bind(
      tls.createServer(tlsOptions, (socket) => this.acceptSocket(socket, 'tls')),
      config.mqttsPort,
      'MQTTS_PORT',
      'mqtts',
    );
  }

  private webServer(server: http.Server, transport: 'ws' | 'wss'): http.Server {
    server.on('request', (req, res) => this.routes.request(req, res));
    server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head, transport));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
      this.log.debug({ reason: err.message }, 'bad HTTP request');
      refuseUpgrade(socket, tooLarge ? { status: 431, reason: 'request headers too large' } : { status: 400, reason: 'bad request' });
    });
    server.on('tlsClientError', (err: Error) => this.log.debug({ reason: err.message }, 'TLS handshake failed'));
    return server;
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, transport: 'ws' | 'wss'): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (!this.config.wsPaths.includes(path)) return this.routes.otherUpgrade(req, socket, head);
    const refusal = checkUpgrade(req, {
      allowedOrigins: this.config.allowedOrigins,
      requireSubprotocol: this.config.requireSubprotocol,
      atCapacity: () => this.atCapacity(),
    });
    if (refusal) {
      this.log.info({ remote: remoteAddress(req.socket), reason: refusal.reason, status: refusal.status }, 'upgrade refused');
      return refuseUpgrade(socket, refusal);
    }
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const peer = req.socket instanceof tls.TLSSocket ? peerCertificateSubject(req.socket) : undefined;
      this.accept(webSocketClient(ws, transport, remoteAddress(req.socket), peer));
    });
  }

  private acceptSocket(socket: net.Socket, transport: 'tcp' | 'tls'): void {
    if (this.atCapacity()) {
      this.log.info({ remote: remoteAddress(socket), reason: 'connection limit reached' }, 'connection refused');
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const peer = socket instanceof tls.TLSSocket ? peerCertificateSubject(socket) : undefined;
    this.accept(socketClient(socket, transport, peer));
  }

  private accept(client: ClientStream): void {
    const connection = new Connection(client, {
      conn: (++this.nextConn).toString(36),
      upstream: this.upstream,
      maxPacketSize: this.config.maxPacketSize,
      connectTimeoutMs: this.config.connectTimeoutMs,
      log: this.log,
      onClosed: (closed) => {
        this.connections.delete(closed);
        if (this.connections.size === 0) this.onEmpty?.();
      },
    });
    this.connections.add(connection);
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
    for (const server of this.servers) if (server instanceof http.Server) server.closeAllConnections();
    await Promise.all(stopped);
  }

  private allClosed(): Promise<void> {
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.onEmpty = resolve));
  }
}
