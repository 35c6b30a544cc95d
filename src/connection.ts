import { CloseReason, FramingError, GatewayError, type CloseReasonName } from './errors.js';
import type { Logger } from './log.js';
import { MqttFramer, PacketType, packetType } from './mqtt/framer.js';
import { PacketDecoder, protocolName, type IConnectPacket } from './mqtt/codec.js';
import type { ClientStream } from './net/client-stream.js';
import type { ClientLink, Upstream, UpstreamSession } from './upstream/upstream.js';

export interface ConnectionOptions {
  readonly conn: string;
  readonly upstream: Upstream;
  readonly maxPacketSize: number;
  readonly connectTimeoutMs: number;
  readonly log: Logger;
  readonly onClosed: (connection: Connection) => void;
}

type State = 'awaitingConnect' | 'opening' | 'open' | 'closed';

/**
 * One client, from its first byte to its close: frames its bytes into MQTT packets, holds it to
 * the edge rules (CONNECT first, in time, within the size limit), then joins it to the upstream
 * with backpressure both ways. Logs one line when it opens and one when it closes.
 */
export class Connection {
  private state: State = 'awaitingConnect';
  private readonly framer: MqttFramer;
  private readonly decoder = new PacketDecoder();
  private session: UpstreamSession | undefined;
  /** Packets that arrived while the upstream was being opened. */
  private waiting: Buffer[] = [];
  private clientEnded = false;
  private connectTimer: NodeJS.Timeout | undefined;
  private reason: CloseReasonName | undefined;
  private log: Logger;
  private connect: IConnectPacket | undefined;
  private bytesIn = 0;
  private bytesOut = 0;
  private readonly startedAt = Date.now();

  constructor(
    private readonly client: ClientStream,
    private readonly options: ConnectionOptions,
  ) {
    this.log = options.log.child({ conn: options.conn, remote: client.remote, transport: client.transport });
    this.framer = new MqttFramer(options.maxPacketSize, (packet) => this.onPacket(packet));
    const { duplex } = client;
    duplex.on('data', (chunk: Buffer) => this.onData(chunk));
    duplex.on('end', () => this.onClientEnd());
    duplex.on('close', () => this.onClientClose());
    duplex.on('error', (err: Error) => {
      this.log.debug({ err }, 'client connection error');
      this.reason ??= 'clientClosed';
    });
    client.onRefused((reason) => this.abort(reason));
    this.connectTimer = setTimeout(() => this.abort('connectTimeout'), options.connectTimeoutMs).unref();
  }

  get clientId(): string | undefined {
    return this.connect?.clientId;
  }

  /** Server shutdown: stop taking bytes from the client; the upstream's close() ends the rest. */
  shutdown(): void {
    this.reason ??= 'serverShutdown';
    this.client.duplex.pause();
    if (this.state === 'awaitingConnect') this.client.end('serverShutdown');
  }

  /** Ends the client at once (shutdown deadline passed). */
  destroy(): void {
    this.abort(this.reason ?? 'serverShutdown');
    this.client.duplex.destroy();
  }

  private onData(chunk: Buffer): void {
    this.bytesIn += chunk.length;
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
    switch (this.state) {
      case 'open':
        if (!(this.session as UpstreamSession).write(packet)) this.client.duplex.pause();
        return;
      case 'opening':
        this.waiting.push(packet);
        return;
      case 'awaitingConnect':
        this.onConnect(packet);
        return;
      case 'closed':
        return;
    }
  }

  private onConnect(packet: Buffer): void {
    clearTimeout(this.connectTimer);
    if (packetType(packet) !== PacketType.connect) {
      this.abort('firstPacketNotConnect');
      return;
    }
    let connect: IConnectPacket;
    try {
      connect = this.decoder.decode(packet) as IConnectPacket;
    } catch (err) {
      this.abort('protocolError', (err as Error).message);
      return;
    }
    this.connect = connect;
    this.log = this.log.child({ clientId: connect.clientId });
    this.log.info(
      { username: connect.username, protocol: protocolName(connect.protocolVersion), keepalive: connect.keepalive },
      'client connected',
    );
    this.state = 'opening';
    this.client.duplex.pause();
    this.options.upstream.open(this.link(connect, packet)).then(
      (session) => this.onUpstreamOpen(session),
      (err: unknown) => {
        const code = err instanceof GatewayError ? err.code : 'ERR_UPSTREAM';
        this.log.warn({ err: (err as Error).message, code }, 'upstream refused the client');
        this.abort(code === 'ERR_BACKEND_TIMEOUT' ? 'backendUnreachable' : 'backendLost');
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
    session.onDrain(() => this.client.duplex.resume());
    const waiting = this.waiting;
    this.waiting = [];
    session.cork?.();
    const flowing = waiting.map((packet) => session.write(packet)).every(Boolean);
    session.uncork?.();
    if (this.clientEnded) session.end();
    else if (flowing && this.reason === undefined) this.client.duplex.resume();
  }

  private link(connect: IConnectPacket, connectBytes: Buffer): ClientLink {
    const duplex = this.client.duplex;
    return {
      conn: this.options.conn,
      remote: this.client.remote,
      transport: this.client.transport,
      connect,
      connectBytes,
      peerCertificateSubject: this.client.peerCertificateSubject,
      log: this.log,
      send: (bytes) => {
        this.bytesOut += bytes.length;
        return duplex.write(bytes);
      },
      onDrain: (listener) => duplex.on('drain', listener),
      close: (reason) => {
        this.reason ??= reason;
        this.client.end(this.reason);
      },
    };
  }

  /** The client will send no more: what it sent is delivered, then the upstream is ended cleanly. */
  private onClientEnd(): void {
    if (this.clientEnded) return;
    this.clientEnded = true;
    this.reason ??= 'clientClosed';
    if (!this.framer.idle) this.log.debug('client ended inside a packet; the partial packet is dropped');
    if (this.state === 'open') this.session?.end();
    else if (this.state === 'awaitingConnect') this.client.end(this.reason);
  }

  private onClientClose(): void {
    this.onClientEnd();
    clearTimeout(this.connectTimer);
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
    this.options.onClosed(this);
  }

  /** Refuses the client now: one log line, the transport's close code, and a clean end upstream. */
  private abort(reason: CloseReasonName, detail?: string): void {
    if (this.reason === undefined) {
      this.reason = reason;
      this.log.warn({ reason: CloseReason[reason].text, detail }, 'closing client');
    }
    clearTimeout(this.connectTimer);
    this.client.duplex.pause();
    this.client.abort(reason);
    this.session?.end();
  }
}
