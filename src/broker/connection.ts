import mqttPacket, { type Packet } from 'mqtt-packet';
import type { Logger } from 'pino';
import { GatewayError, type CloseReasonName } from '../errors.js';
import { PacketDecoder } from '../mqtt/codec.js';
import type { ClientLink, UpstreamSession } from '../upstream/upstream.js';
import type { AclSubject } from './auth/acl.js';
import { AckType, encodeAck, encodeDisconnect, type AckTypeByte } from './codec/acks.js';
import { encodePublish } from './codec/publish.js';
import { ConnectionState, type BrokerContext, type ClientContext, type ConnectionStateValue } from './context.js';
import { dispatch } from './dispatch.js';
import { cachedPublish } from './encode-cache.js';
import { KeepAlive } from './keepalive.js';
import { expiryLeft, type Message, type QoS } from './message.js';
import { disconnectCode, ProtocolViolation } from './reason-codes.js';
import type { Session } from './session.js';
import type { Will } from './will.js';

/** Held packets are written once they add up to this much, corked or not: memory stays bounded. */
const FLUSH_BYTES = 16 * 1024;

/**
 * One client on the embedded broker: the gateway's UpstreamSession for it (packets in) and the
 * session's Outlet (packets out), with backpressure both ways.
 */
export class Connection implements UpstreamSession, ClientContext {
  readonly version: 3 | 4 | 5;
  readonly v5: boolean;
  state: ConnectionStateValue = ConnectionState.connecting;
  log: Logger;
  clientId: string;
  readonly username: string | undefined;
  session: Session | null = null;
  /** The client's buffer is full; nothing is sent until it drains. */
  blocked = false;
  /** How many QoS 1/2 messages may be in flight to the client (Receive Maximum, MQTT 5). */
  sendQuota: number;
  /** The largest packet the client accepts (Maximum Packet Size, MQTT 5) [MQTT-3.1.2-24]. */
  maxPacketOut = Number.POSITIVE_INFINITY;
  /** QoS 2 messages from the client that may await PUBREL at once: the Receive Maximum we announce. */
  receiveMaximum: number;
  /** Reason Strings may go on acknowledgements (MQTT 5 Request Problem Information) [MQTT-3.1.2-29]. */
  problemInfo = true;
  /** Client-to-server topic aliases (MQTT 5) [MQTT-3.3.2-10]. */
  readonly aliases = new Map<number, string>();
  will: Will | null = null;
  private keepAlive: KeepAlive | null = null;
  /** Another connection took this one's session over; its close must not touch the session. */
  takenOver = false;
  readonly decoder = new PacketDecoder();
  private readonly drainListeners: (() => void)[] = [];
  /** Packets sent while the broker is corked, written together on uncork (see Broker.cork). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    readonly broker: BrokerContext,
    readonly link: ClientLink,
  ) {
    const connect = link.connect;
    this.version = connect.protocolVersion ?? 4;
    this.v5 = this.version === 5;
    this.clientId = connect.clientId;
    this.username = connect.username;
    this.log = link.log;
    this.sendQuota = broker.options.maxInflightMessages;
    this.receiveMaximum = Math.min(broker.options.maxInflightMessages, 0xffff);
    // The decoder learns the protocol level from CONNECT, and reads later packets accordingly.
    this.decoder.decode(link.connectBytes);
    link.onDrain(() => this.onLinkDrain());
  }

  get who(): AclSubject {
    return { username: this.username, clientId: this.clientId };
  }

  // --- UpstreamSession: packets from the client ---

  write(packet: Buffer): boolean {
    if (this.state !== ConnectionState.connected) return true;
    this.keepAlive?.touch();
    try {
      dispatch(this, packet);
    } catch (err) {
      this.fail(err);
    }
    // Pause a client we cannot answer (its buffer is full) until it reads.
    return !this.blocked;
  }

  onDrain(listener: () => void): void {
    this.drainListeners.push(listener);
  }

  /** The gateway groups the packets of one incoming chunk: so does the broker with what it sends. */
  cork(): void {
    this.broker.cork();
  }

  uncork(): void {
    this.broker.uncork();
  }

  /** The client's stream ended without DISCONNECT (or after it: then this is a no-op). */
  end(): void {
    this.close('clientClosed', true);
  }

  destroy(): void {
    this.close('clientClosed', true);
  }

  // --- Outlet: packets to the client ---

  send(bytes: Buffer): void {
    if (this.pending.length === 0 && !this.broker.corked) {
      if (!this.link.send(bytes)) this.blocked = true;
      return;
    }
    if (this.pending.length === 0) this.broker.markPending(this);
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
  }

  /**
   * Writes what was held while corked, as one buffer: one write (and one system call) for many
   * small packets costs far less than the copy.
   */
  flush(): void {
    const n = this.pending.length;
    if (n === 0) return;
    const bytes = n === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.link.send(bytes)) this.blocked = true;
  }

  sendPacket(packet: Packet): void {
    this.send(mqttPacket.generate(packet, { protocolVersion: this.version }));
  }

  sendAck(type: AckTypeByte, packetId: number, reasonCode: number, reasonString?: string): void {
    if (reasonString !== undefined && this.v5 && this.problemInfo) {
      const bytes = encodeAck(type, packetId, reasonCode, true, reasonString);
      // Not at the price of a packet larger than the client accepts [MQTT-3.4.2-2].
      if (bytes.length <= this.maxPacketOut) return this.send(bytes);
    }
    this.send(encodeAck(type, packetId, reasonCode, this.v5));
  }

  sendPubrel(packetId: number): void {
    this.sendAck(AckType.pubrel, packetId, 0);
  }

  sendPublish(msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | null, packetId: number, dup: boolean): boolean {
    let bytes: Buffer;
    if (msg.expiresAt === 0 && subIds === null && !dup && msg.cache !== null) {
      bytes = cachedPublish(msg, this.v5, qos, retain, packetId);
    } else {
      const expiry = msg.expiresAt === 0 ? -1 : expiryLeft(msg, Date.now());
      if (expiry === 0) return false;
      bytes = encodePublish(msg, { v5: this.v5, qos, retain, dup, packetId, expiry, subIds: this.v5 ? subIds : null });
    }
    if (bytes.length > this.maxPacketOut) {
      this.log.debug({ topic: msg.topic, size: bytes.length, max: this.maxPacketOut }, 'message larger than the client accepts, dropped');
      return false;
    }
    this.send(bytes);
    return true;
  }

  // --- keep alive ---

  startKeepAlive(seconds: number): void {
    if (seconds === 0) return;
    this.keepAlive = new KeepAlive(seconds, {
      paused: () => this.blocked,
      // The gateway resumes reading on the drain listeners; the next write() pauses it again, so
      // at most one incoming chunk is read per call while the client's buffer is still full.
      readAhead: () => this.resumeInput(),
      expired: () => {
        this.log.info({ keepalive: seconds, paused: this.blocked }, 'keep alive expired');
        this.close('keepAliveTimeout', true);
      },
    });
  }

  // --- closing ---

  /**
   * Ends the connection: an MQTT 5 client is told why with DISCONNECT when the reason has a code
   * and CONNACK was sent [MQTT-3.14.0-1]; the session outlives it or not, and the will is
   * published when `publishWill` (any close but a normal DISCONNECT) [MQTT-3.1.2-8].
   */
  close(reason: CloseReasonName, publishWill: boolean): void {
    if (this.state === ConnectionState.closed) return;
    const wasConnected = this.state === ConnectionState.connected;
    this.state = ConnectionState.closed;
    this.keepAlive?.stop();
    this.flush();
    const code = this.v5 && wasConnected ? disconnectCode(reason) : undefined;
    if (code !== undefined) this.link.send(encodeDisconnect(code));
    this.link.close(reason);
    if (wasConnected) this.broker.detach(this, publishWill);
  }

  /** Another connection with this client id arrived [MQTT-3.1.4-3]. */
  takeOver(): void {
    this.takenOver = true;
    this.log.info('session taken over by a new connection');
    this.close('takenOver', false);
  }

  private fail(err: unknown): void {
    if (err instanceof ProtocolViolation) {
      this.log.warn({ reason: err.reason, detail: err.message }, 'protocol violation, closing');
      this.close(err.reason, true);
    } else if (err instanceof GatewayError && err.code === 'ERR_MALFORMED_PACKET') {
      this.log.warn({ detail: err.message }, 'malformed packet, closing');
      this.close('malformedPacket', true);
    } else {
      this.log.error({ err }, 'broker failed on a packet');
      this.close('internalError', true);
    }
  }

  private onLinkDrain(): void {
    if (this.state !== ConnectionState.connected) return;
    this.blocked = false;
    this.broker.cork();
    this.session?.pump();
    this.broker.uncork();
    this.flush();
    if (this.blocked) return;
    this.resumeInput();
  }

  private resumeInput(): void {
    for (const listener of this.drainListeners) listener();
  }
}
