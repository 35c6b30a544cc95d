import { CloseReason, FramingError, GatewayError, type CloseReasonName } from './errors.js';
import type { Logger } from './log.js';
import { MqttFramer, PacketType, packetType } from './mqtt/framer.js';
import { PacketDecoder, disconnectPacket, protocolName, type IConnectPacket } from './mqtt/codec.js';
import type { ClientEvents, ClientStream } from './net/client-stream.js';
import { ConnectionMeter } from './connection-meter.js';
import type { Metrics } from './metrics.js';
import type { ClientLink, Upstream, UpstreamSession } from './upstream/upstream.js';
import type { Admission, Admit } from './auth/admission.js';
import { PacketGate, callAt, passEverything } from './auth/client-guard.js';

export interface ConnectionOptions {
  readonly conn: string;
  readonly upstream: Upstream;
  readonly maxPacketSize: number;
  readonly connectTimeoutMs: number;
  readonly log: Logger;
  readonly onClosed: (connection: Connection) => void;
  /** Counts this connection's bytes, packets and CONNECT outcome. */
  readonly metrics?: Metrics;
  /** Packet size limit until the CONNECT is admitted; maxPacketSize after. */
  readonly maxPreAuthPacketSize?: number;
  /** The edge's decision on the CONNECT: authentication, rewrite, topic checks, expiry. */
  readonly admit?: Admit;
}

/** How a client hears that the upstream could not take it: "try again later" (1013) when the backend is
 * away, "going away" (1001) during shutdown, 1011 for anything unexpected. */
const UPSTREAM_FAILURES: Readonly<Record<string, CloseReasonName>> = {
  ERR_BACKEND_TIMEOUT: 'backendUnreachable',
  ERR_BACKEND_UNREACHABLE: 'backendUnreachable',
  ERR_SHUTTING_DOWN: 'serverShutdown',
};

type State = 'awaitingConnect' | 'opening' | 'open' | 'closed';

/**
 * One client, from its first byte to its close: frames its bytes into MQTT packets, holds it to
 * the edge rules (CONNECT first, in time, within the size limit), then joins it to the upstream
 * with backpressure both ways. Logs one line when it opens and one when it closes.
 */
export class Connection implements ClientEvents {
  private state: State = 'awaitingConnect';
  private readonly framer: MqttFramer;
  private session: UpstreamSession | undefined;
  /** Packets that arrived while the upstream was being opened. */
  private waiting: Buffer[] = [];
  private clientEnded = false;
  /** Set once the client is being closed: its further bytes are read and dropped (see discardInput). */
  private discarding = false;
  private connectTimer: NodeJS.Timeout | undefined;
  private reason: CloseReasonName | undefined;
  private connect: IConnectPacket | undefined;
  private bytesIn = 0;
  private bytesOut = 0;
  private readonly startedAt = Date.now();
  private readonly meter: ConnectionMeter | undefined;
  /** Topic checks on the client's packets, when its credentials restrict them. */
  private gate: PacketGate | undefined;
  private cancelExpiry: (() => void) | undefined;
  /** Set by closeFor: nothing more from the upstream reaches the client. */
  private muted = false;

  constructor(
    private readonly client: ClientStream,
    private readonly options: ConnectionOptions,
  ) {
    this.meter = options.metrics && new ConnectionMeter(options.metrics, client.transport);
    this.framer = new MqttFramer(options.maxPreAuthPacketSize ?? options.maxPacketSize, (packet) => this.onPacket(packet));
    this.connectTimer = setTimeout(() => this.abort('connectTimeout'), options.connectTimeoutMs).unref();
    client.listen(this);
  }

  /**
   * A logger with this connection's fields, made when something is logged and not kept: a child
   * logger costs some hundreds of bytes, and an idle connection logs nothing.
   */
  private get log(): Logger {
    const { conn } = this.options;
    const { remote, transport } = this.client;
    return this.options.log.child(this.connect ? { conn, remote, transport, clientId: this.connect.clientId } : { conn, remote, transport });
  }

  get clientId(): string | undefined {
    return this.connect?.clientId;
  }

  /** Server shutdown: stop taking bytes from the client; the upstream's close() ends the rest. */
  shutdown(): void {
    this.reason ??= 'serverShutdown';
    // Already being closed: its input must keep draining, or its stream never closes.
    if (this.discarding) return;
    this.client.pause();
    if (this.state === 'awaitingConnect') {
      this.client.end('serverShutdown');
      this.discardInput();
    }
  }

  /** Ends the client at once (shutdown deadline passed). */
  destroy(): void {
    this.abort(this.reason ?? 'serverShutdown');
    this.client.destroy();
  }

  onData(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    this.meter?.received(chunk);
    if (this.discarding) return;
    const session = this.session;
    session?.cork?.();
    try {
      this.framer.push(chunk);
    } catch (err) {
      if (err instanceof FramingError) this.abort(err.reason, err.message);
      else throw err;
    } finally {
      session?.uncork?.();
    }
  }

  private onPacket(packet: Buffer): void {
    this.meter?.packet(packet);
    switch (this.state) {
      case 'open':
        if (this.discarding || (this.gate && !this.gate.pass(packet))) return;
        if (!(this.session as UpstreamSession).write(packet)) this.client.pause();
        return;
      case 'opening':
        if (this.discarding || (this.gate && !this.gate.pass(packet))) return;
        this.waiting.push(packet);
        return;
      case 'awaitingConnect':
        // A packet behind a refused first packet, in the same chunk, must not open a session.
        if (this.discarding) return;
        this.onConnect(packet);
        return;
      case 'closed':
        return;
    }
  }

  private onConnect(packet: Buffer): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    if (packetType(packet) !== PacketType.connect) {
      this.abort('firstPacketNotConnect');
      return;
    }
    let connect: IConnectPacket;
    try {
      // A decoder of its own: it is needed once, and an idle connection should not keep one.
      connect = new PacketDecoder().decode(packet) as IConnectPacket;
    } catch (err) {
      this.abort('protocolError', (err as Error).message);
      return;
    }
    this.connect = connect;
    this.log.info(
      { username: connect.username, protocol: protocolName(connect.protocolVersion), keepalive: connect.keepalive },
      'client connected',
    );
    this.state = 'opening';
    this.client.pause();
    const admission = this.options.admit?.(connect, packet, this.log) ?? { accepted: true, connect, connectBytes: packet };
    if (!(admission instanceof Promise)) return this.onAdmitted(admission);
    admission.then(
      (decided) => this.onAdmitted(decided),
      (err: unknown) => this.abort('internalError', (err as Error).message),
    );
  }

  /** The edge let the client in (the upstream is opened with the CONNECT it decided on) or refused it with a CONNACK. */
  private onAdmitted(admission: Admission): void {
    // Closed while an asynchronous check ran (a token being verified): nothing to open, nobody to answer.
    if (this.discarding) return;
    if (!admission.accepted) {
      if (this.clientEnded) return;
      this.reason ??= admission.reason;
      this.log.warn({ reason: CloseReason[admission.reason].text, detail: admission.detail }, 'CONNECT refused at the edge');
      this.bytesOut += admission.connack.length;
      this.meter?.sent(admission.connack);
      this.client.write(admission.connack);
      this.client.end(admission.reason);
      this.discardInput();
      return;
    }
    this.framer.maxPacketSize = this.options.maxPacketSize;
    // The gateway may speak to this client itself (refusals, an expiry DISCONNECT): a gate keeps
    // its packets between the upstream's.
    const inspector = admission.inspector ?? (admission.expiresAt !== undefined ? passEverything : undefined);
    if (inspector) {
      const reply = (bytes: Buffer): void => {
        this.bytesOut += bytes.length;
        this.client.write(bytes);
      };
      const gate = new PacketGate(inspector, reply, (reason, detail) => this.abort(reason, detail));
      this.gate = gate;
      this.waiting = this.waiting.filter((waiting) => gate.pass(waiting));
      // A waiting packet the gate refused may have closed the client: then nothing is opened.
      if (this.discarding) return;
    }
    if (admission.expiresAt !== undefined && !this.clientEnded) this.cancelExpiry = callAt(admission.expiresAt, () => this.closeFor('tokenExpired'));
    this.options.upstream.open(this.link(admission.connect, admission.connectBytes)).then(
      (session) => this.onUpstreamOpen(session),
      (err: unknown) => {
        const code = err instanceof GatewayError ? err.code : 'ERR_UPSTREAM';
        this.log.warn({ err: (err as Error).message, code }, 'upstream refused the client');
        this.abort(UPSTREAM_FAILURES[code] ?? 'backendLost');
      },
    );
  }

  private onUpstreamOpen(session: UpstreamSession): void {
    if (this.state === 'closed') {
      session.destroy();
      return;
    }
    this.session = session;
    this.state = 'open';
    session.onDrain(() => this.client.resume());
    const waiting = this.waiting;
    this.waiting = [];
    session.cork?.();
    const flowing = waiting.map((packet) => session.write(packet)).every(Boolean);
    session.uncork?.();
    if (this.clientEnded) session.end();
    else if (flowing && this.reason === undefined) this.client.resume();
  }

  private link(connect: IConnectPacket, connectBytes: Buffer): ClientLink {
    const client = this.client;
    const log = (): Logger => this.log;
    return {
      conn: this.options.conn,
      remote: this.client.remote,
      addresses: this.client.addresses,
      transport: this.client.transport,
      connect,
      connectBytes,
      peerCertificateSubject: this.client.peerCertificateSubject,
      get log() {
        return log();
      },
      send: (bytes) => {
        if (this.muted) return true;
        this.bytesOut += bytes.length;
        this.meter?.sent(bytes);
        const flowing = client.write(bytes);
        this.gate?.sent(bytes);
        return flowing;
      },
      onDrain: (listener) => client.onDrain(listener),
      close: (reason) => {
        this.reason ??= reason;
        this.client.end(this.reason);
        this.discardInput();
      },
    };
  }

  /** The transport refused the client's input: the client is closed with the transport's code. */
  onRefused(reason: CloseReasonName, detail: string): void {
    this.abort(reason, detail);
  }

  /** The client will send no more: what it sent is delivered, then the upstream is ended cleanly. */
  onEnd(): void {
    if (this.clientEnded) return;
    this.clientEnded = true;
    // Nothing more it sends is used; a paused stream would not see its transport close (a FIN after a close frame).
    this.client.resume();
    this.reason ??= 'clientClosed';
    if (!this.framer.idle) this.log.debug('client ended inside a packet; the partial packet is dropped');
    if (this.state === 'open') this.session?.end();
    else if (this.state === 'awaitingConnect') this.client.end(this.reason);
  }

  onClose(): void {
    this.onEnd();
    clearTimeout(this.connectTimer);
    this.cancelExpiry?.();
    // While opening, onUpstreamOpen still delivers what was waiting, then ends the session.
    if (this.state !== 'opening') this.state = 'closed';
    this.log.info(
      {
        reason: CloseReason[this.reason ?? 'clientClosed'].text,
        bytesIn: this.bytesIn,
        bytesOut: this.bytesOut,
        durationMs: Date.now() - this.startedAt,
      },
      'client disconnected',
    );
    this.meter?.closed(this.reason ?? 'clientClosed');
    this.options.onClosed(this);
  }

  /**
   * Ends the client for a decision of the gateway (its credentials expired, it stopped answering
   * pings): an MQTT 5 client is told why by a DISCONNECT with the reason's code [MQTT-3.14.2.1],
   * and nothing from the upstream follows it; the upstream is ended cleanly.
   */
  closeFor(reason: CloseReasonName, detail?: string): void {
    if (this.discarding) return;
    this.reason ??= reason;
    this.log.warn({ reason: CloseReason[reason].text, detail }, 'closing client');
    this.cancelExpiry?.();
    const entry = CloseReason[reason];
    const canSpeak = this.state === 'open' && (this.gate?.canSpeak ?? true);
    if (canSpeak && this.connect?.protocolVersion === 5 && 'mqtt5' in entry) {
      const disconnect = disconnectPacket(entry.mqtt5);
      this.bytesOut += disconnect.length;
      this.client.write(disconnect);
    }
    this.muted = true;
    this.client.end(reason);
    this.discardInput();
    this.session?.end();
  }

  /** Refuses the client now: one log line, the transport's close code, and a clean end upstream. */
  private abort(reason: CloseReasonName, detail?: string): void {
    if (this.reason === undefined) {
      this.reason = reason;
      this.log.warn({ reason: CloseReason[reason].text, detail }, 'closing client');
    }
    clearTimeout(this.connectTimer);
    this.cancelExpiry?.();
    this.discardInput();
    this.client.abort(reason);
    this.session?.end();
  }

  /**
   * The client is being closed, so nothing more it sends will be used. Its stream must still be read
   * to its end: a paused stream may never see its transport's close (the peer's answer to our close
   * frame, its FIN), so the connection would not be counted as closed.
   */
  private discardInput(): void {
    this.discarding = true;
    this.client.resume();
  }
}
