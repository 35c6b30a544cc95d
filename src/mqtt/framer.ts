import { FramingError } from '../errors.js';

/** The longest Remaining Length field: four bytes of seven bits each [MQTT-2.2.3]. */
const MAX_LENGTH_BYTES = 4;

/**
 * Finds MQTT packet boundaries in a byte stream: fixed header byte, then the variable-length
 * Remaining Length. MQTT packets need not align with WebSocket frames or TCP reads [MQTT-6.0.0-2],
 * so bytes are carried over between pushes. The size limit is applied as soon as the Remaining
 * Length is known, before any of the packet's body is buffered. Packets that lie whole inside one
 * chunk are handed out as views of that chunk, without copying.
 */
export class MqttFramer {
  /** Bytes of a packet that began in an earlier chunk (header and part of the body). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Total size (header + body) of the packet being gathered, or -1 while its header is incomplete. */
  private expected = -1;

  constructor(
    public maxPacketSize: number,
    private readonly onPacket: (packet: Buffer) => void,
  ) {}

  /** Feeds bytes in; calls onPacket for every packet completed. Throws FramingError on bad input. */
  push(chunk: Buffer): void {
    let offset = 0;
    if (this.pendingBytes > 0) {
      offset = this.continuePending(chunk);
      if (offset < 0) return;
    }
    while (offset < chunk.length) {
      const size = this.packetSize(chunk, offset);
      if (size < 0 || offset + size > chunk.length) {
        this.startPending(chunk.subarray(offset), size);
        return;
      }
      // One packet per frame is what browsers send: hand the chunk itself over, no view to make.
      this.onPacket(offset === 0 && size === chunk.length ? chunk : chunk.subarray(offset, offset + size));
      offset += size;
    }
  }

  /** True when no partial packet is held, so the stream ended on a packet boundary. */
  get idle(): boolean {
    return this.pendingBytes === 0;
  }

  /**
   * Size of the packet starting at `offset`, or -1 when its header is not all here yet.
   * Throws when the header is malformed or declares a packet over the limit.
   */
  private packetSize(buf: Buffer, offset: number): number {
    let remaining = 0;
    let multiplier = 1;
    for (let i = 1; i <= MAX_LENGTH_BYTES; i++) {
      if (offset + i >= buf.length) return -1;
      const byte = buf[offset + i] as number;
      remaining += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) {
        const size = 1 + i + remaining;
        if (size > this.maxPacketSize) {
          throw new FramingError(
            'packetTooLarge',
            `packet of ${size} bytes exceeds the limit of ${this.maxPacketSize}`,
          );
        }
        return size;
      }
      multiplier *= 128;
    }
    throw new FramingError('protocolError', 'malformed Remaining Length (more than four bytes)');
  }

  private startPending(part: Buffer, size: number): void {
    // Copy: the caller may reuse its chunk, and a small tail must not pin a large buffer.
    this.pending = [Buffer.from(part)];
    this.pendingBytes = part.length;
    this.expected = size;
  }

  /** Completes the held packet from `chunk`; returns where the next packet starts, or -1 if still short. */
  private continuePending(chunk: Buffer): number {
    if (this.expected < 0) {
      // The header itself was split; look at just enough bytes to read it.
      const head = Buffer.concat([...this.pending, chunk.subarray(0, MAX_LENGTH_BYTES + 1)]);
      this.expected = this.packetSize(head, 0);
      if (this.expected < 0) {
        this.pending.push(Buffer.from(chunk));
        this.pendingBytes += chunk.length;
        return -1;
      }
    }
    const needed = this.expected - this.pendingBytes;
    if (chunk.length < needed) {
      this.pending.push(Buffer.from(chunk));
      this.pendingBytes += chunk.length;
      return -1;
    }
    const packet = Buffer.concat([...this.pending, chunk.subarray(0, needed)], this.expected);
    this.pending = [];
    this.pendingBytes = 0;
    this.expected = -1;
    this.onPacket(packet);
    return needed;
  }
}

/** MQTT control packet types, from the high nibble of the first byte [MQTT-2.2.1]. */
export const PacketType = {
  connect: 1,
  connack: 2,
  publish: 3,
  puback: 4,
  pubrec: 5,
  pubrel: 6,
  pubcomp: 7,
  subscribe: 8,
  suback: 9,
  unsubscribe: 10,
  unsuback: 11,
  pingreq: 12,
  pingresp: 13,
  disconnect: 14,
  auth: 15,
} as const;

export function packetType(packet: Buffer): number {
  return (packet[0] as number) >> 4;
}
