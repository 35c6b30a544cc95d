import { varintLength, writeVarint } from './varint.js';

/**
 * The small fixed-shape packets the broker sends often, written directly: PUBACK, PUBREC, PUBREL,
 * PUBCOMP, PINGRESP and DISCONNECT. Everything else goes through mqtt-packet's generate.
 */

export const AckType = {
  puback: 0x40,
  pubrec: 0x50,
  /** PUBREL has fixed header flags 0b0010 [MQTT-3.6.1-1]. */
  pubrel: 0x62,
  pubcomp: 0x70,
} as const;

export type AckTypeByte = (typeof AckType)[keyof typeof AckType];

/** Reason String property identifier [MQTT-3.4.2.2.2]. */
const REASON_STRING = 0x1f;

/**
 * A PUBACK-like packet. The reason code is omitted when it is Success and the client speaks 3.1.1
 * or 5.0 without properties [MQTT-3.4.2-1]. An MQTT 5 Reason String goes in the properties; the
 * caller decides whether the client may be sent one [MQTT-3.1.2-29].
 */
export function encodeAck(type: AckTypeByte, packetId: number, reasonCode: number, v5: boolean, reasonString?: string): Buffer {
  if (!v5 || (reasonCode === 0 && reasonString === undefined)) return Buffer.from([type, 2, packetId >> 8, packetId & 0xff]);
  if (reasonString === undefined) return Buffer.from([type, 3, packetId >> 8, packetId & 0xff, reasonCode]);
  const textLength = Buffer.byteLength(reasonString);
  const propsLength = 3 + textLength;
  const remaining = 3 + varintLength(propsLength) + propsLength;
  const out = Buffer.allocUnsafe(1 + varintLength(remaining) + remaining);
  out[0] = type;
  let pos = writeVarint(out, 1, remaining);
  pos = out.writeUInt16BE(packetId, pos);
  out[pos++] = reasonCode;
  pos = writeVarint(out, pos, propsLength);
  out[pos++] = REASON_STRING;
  pos = out.writeUInt16BE(textLength, pos);
  out.write(reasonString, pos, 'utf8');
  return out;
}

export const PINGRESP = Buffer.from([0xd0, 0x00]);

/** An MQTT 5 DISCONNECT with a reason code and no properties [MQTT-3.14.2]. */
export function encodeDisconnect(reasonCode: number): Buffer {
  return Buffer.from([0xe0, 0x02, reasonCode, 0x00]);
}
