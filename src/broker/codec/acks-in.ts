import { ProtocolViolation } from '../reason-codes.js';

/**
 * PUBACK, PUBREC, PUBREL and PUBCOMP from a client, read directly: they are half of every QoS 1/2
 * flow, and all the broker needs is the packet identifier and (MQTT 5) the reason code.
 * MQTT 5 properties on them (reason string, user properties) are ignored.
 */
export interface InboundAck {
  packetId: number;
  /** 0 (Success) when absent [MQTT-3.4.2-1]. */
  reasonCode: number;
}

const PUBREL_TYPE = 6;

export function decodeAck(packet: Buffer, v5: boolean): InboundAck {
  const first = packet[0] as number;
  // Fixed header flags are 0010 for PUBREL and 0000 for the others [MQTT-2.2.2-1].
  if ((first & 0x0f) !== (first >> 4 === PUBREL_TYPE ? 0x02 : 0)) {
    throw new ProtocolViolation('malformedPacket', 'reserved fixed header flags [MQTT-2.2.2-2]');
  }
  let pos = 1;
  while (((packet[pos++] as number) & 0x80) !== 0);
  const length = packet.length - pos;
  if (length < 2 || (!v5 && length !== 2)) {
    throw new ProtocolViolation('malformedPacket', `acknowledgement with a body of ${length} bytes`);
  }
  return { packetId: packet.readUInt16BE(pos), reasonCode: length > 2 ? (packet[pos + 2] as number) : 0 };
}
