/**
 * A deliberately small MQTT 3.1.1 client for load generation.
 *
 * MQTT.js spends more CPU per message than the proxies we measure, and this machine has two cores, so the
 * load generator encodes PUBLISH packets from templates (mqtt-packet) and reads incoming packets with a
 * few lines of framing instead of a general parser. It is independent of the gateway's own framer on
 * purpose: the tool that measures the system should not share its bugs.
 */
import mqttPacket from 'mqtt-packet';
import { openTransport, type Transport } from './transport.js';
import type { Target } from './jobs.js';

const PacketType = {
  connack: 2,
  publish: 3,
  puback: 4,
  suback: 9,
  pingresp: 13,
} as const;

/** Larger than anything we send; a bigger header means the stream is corrupt. */
const MAX_PACKET_BYTES = 1024 * 1024;
const REPLY_TIMEOUT_MS = 10_000;
/** Idle connections must not need pings during a run. */
const KEEPALIVE_SECONDS = 600;

/** Cuts a byte stream into MQTT packets; packets may span chunks or share one [MQTT-6.0.0-2]. */
class Framer {
  private pending: Buffer | null = null;
  constructor(private readonly onPacket: (header: number, body: Buffer) => void) {}

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    let offset = 0;
    while (offset < buf.length) {
      // Remaining Length: up to four bytes of seven bits [MQTT-2.2.3].
      let remaining = 0;
      let multiplier = 1;
      let cursor = offset + 1;
      let complete = false;
      while (cursor < buf.length && cursor <= offset + 4) {
        const byte = buf[cursor++] as number;
        remaining += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (cursor > offset + 4) throw new Error('malformed remaining length');
        break;
      }
      if (remaining > MAX_PACKET_BYTES) throw new Error(`packet of ${remaining} bytes exceeds the bench limit`);
      if (cursor + remaining > buf.length) break;
      this.onPacket(buf[offset] as number, buf.subarray(cursor, cursor + remaining));
      offset = cursor + remaining;
    }
    if (offset < buf.length) this.pending = Buffer.from(buf.subarray(offset));
  }
}

function pubackPacket(packetId: number): Buffer {
  return Buffer.from([PacketType.puback << 4, 2, packetId >> 8, packetId & 0xff]);
}

export class BenchClient {
  /** Called with the application payload of every PUBLISH received. */
  onMessage: (payload: Buffer) => void = () => {};
  onClose: (reason: string) => void = () => {};
  closed = false;

  private readonly framer: Framer;
  private waiting: { type: number; resolve: () => void; reject: (error: Error) => void } | null = null;
  private pendingAcks: Buffer[] = [];
  private ackFlushScheduled = false;

  private constructor(private readonly transport: Transport) {
    this.framer = new Framer((header, body) => this.handle(header, body));
    transport.onData = (chunk) => {
      try {
        this.framer.push(chunk);
      } catch (error) {
        this.fail((error as Error).message);
      }
    };
    transport.onClose = (reason) => this.fail(reason);
  }

  /** Opens the transport and completes CONNECT / CONNACK with a clean session. */
  static async connect(target: Target, clientId: string): Promise<BenchClient> {
    const client = new BenchClient(await openTransport(target));
    const connack = client.expect(PacketType.connack);
    client.transport.send(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId,
        clean: true,
        keepalive: KEEPALIVE_SECONDS,
      }),
    );
    try {
      await connack;
    } catch (error) {
      client.close();
      throw error;
    }
    return client;
  }

  async subscribe(topic: string, qos: 0 | 1): Promise<void> {
    const suback = this.expect(PacketType.suback);
    this.transport.send(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos }] }));
    await suback;
  }

  send(packet: Buffer): void {
    this.transport.send(packet);
  }

  sendMany(packets: readonly Buffer[]): void {
    this.transport.sendMany(packets);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.transport.send(mqttPacket.generate({ cmd: 'disconnect' }));
    this.transport.close();
  }

  private expect(type: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error(`no reply of type ${type} within ${REPLY_TIMEOUT_MS} ms`));
      }, REPLY_TIMEOUT_MS);
      timer.unref();
      this.waiting = {
        type,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  private handle(header: number, body: Buffer): void {
    const type = header >> 4;
    if (type === PacketType.publish) {
      const qos = (header >> 1) & 3;
      let offset = 2 + body.readUInt16BE(0);
      if (qos > 0) {
        this.queueAck(pubackPacket(body.readUInt16BE(offset)));
        offset += 2;
      }
      this.onMessage(body.subarray(offset));
      return;
    }
    if (type === PacketType.connack && body[1] !== 0) {
      this.fail(`CONNACK return code ${body[1]}`);
      return;
    }
    if (type === PacketType.suback && body[2] === 0x80) {
      this.fail('SUBACK refused the subscription');
      return;
    }
    if (this.waiting !== null && this.waiting.type === type) {
      const waiting = this.waiting;
      this.waiting = null;
      waiting.resolve();
    }
    // PUBACK for our own QoS 1 publishes and PINGRESP need no action.
  }

  /** PUBACKs of one incoming chunk leave together (over TCP, in one write). */
  private queueAck(packet: Buffer): void {
    this.pendingAcks.push(packet);
    if (this.ackFlushScheduled) return;
    this.ackFlushScheduled = true;
    queueMicrotask(() => {
      this.ackFlushScheduled = false;
      const acks = this.pendingAcks;
      this.pendingAcks = [];
      if (!this.closed) this.transport.sendMany(acks);
    });
  }

  private fail(reason: string): void {
    const wasOpen = !this.closed;
    this.closed = true;
    if (this.waiting !== null) {
      const waiting = this.waiting;
      this.waiting = null;
      waiting.reject(new Error(reason));
    }
    this.transport.close();
    if (wasOpen) this.onClose(reason);
  }
}
