import type { CloseReasonName } from './errors.js';
import type { Cell, Metrics, Traffic } from './metrics.js';
import { connackCode, connackCodeName } from './mqtt/connack.js';
import { PacketType, packetType } from './mqtt/framer.js';
import type { Transport } from './upstream/upstream.js';

/** A CONNACK's code is at most this far in: type, four length bytes, flags, code. */
const CONNACK_HEAD_BYTES = 7;

/**
 * One connection's contribution to the metrics, fed where its bytes move: what came in, each
 * packet framed, what went out. It learns the CONNECT outcome from the first bytes the upstream
 * sends back (the CONNACK [MQTT-3.2.0-1]), so a bridged broker's refusal counts like the embedded one's.
 */
export class ConnectionMeter {
  private connectSeen = false;
  private outcomeKnown = false;
  /** The first bytes sent to the client, kept until the CONNACK's code can be read. */
  private head: Buffer | undefined;
  private readonly traffic: Traffic;

  constructor(
    private readonly metrics: Metrics,
    transport: Transport,
  ) {
    this.traffic = metrics.traffic(transport);
  }

  received(chunk: Buffer): void {
    this.traffic.bytesIn.value += chunk.length;
  }

  packet(packet: Buffer): void {
    const type = packetType(packet);
    (this.traffic.packetsIn[type] as Cell).value++;
    if (type === PacketType.connect) this.connectSeen = true;
  }

  sent(bytes: Buffer): void {
    this.traffic.bytesOut.value += bytes.length;
    if (this.outcomeKnown || !this.connectSeen) return;
    const head = this.head ? Buffer.concat([this.head, bytes.subarray(0, CONNACK_HEAD_BYTES)]) : bytes;
    const code = connackCode(head);
    if (code === undefined) {
      this.head = Buffer.from(head.subarray(0, CONNACK_HEAD_BYTES));
      return;
    }
    this.head = undefined;
    this.outcomeKnown = true;
    if (code === 0) this.metrics.connectOutcome('accepted');
    else this.metrics.connectOutcome('refused', code === null ? 'no_connack' : connackCodeName(code));
  }

  /** The connection ended; a CONNECT that got no CONNACK is counted by why it ended. */
  closed(reason: CloseReasonName): void {
    if (this.outcomeKnown) return;
    this.outcomeKnown = true;
    if (reason === 'connectTimeout') this.metrics.connectOutcome('timeout');
    else if (reason === 'firstPacketNotConnect' || (reason === 'textFrame' && !this.connectSeen)) {
      this.metrics.connectOutcome('not_connect');
    } else if (!this.connectSeen) return;
    else if (reason === 'clientClosed' || reason === 'clientDisconnect') this.metrics.connectOutcome('abandoned');
    else this.metrics.connectOutcome('refused', snakeCase(reason));
  }
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
