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

/**
 * A PUBACK-like packet. The reason code is omitted when it is Success and the client speaks 3.1.1
 * or 5.0 without properties [MQTT-3.4.2-1].
 */
export function encodeAck(type: AckTypeByte, packetId: number, reasonCode: number, v5: boolean): Buffer {
  if (!v5 || reasonCode === 0) return Buffer.from([type, 2, packetId >> 8, packetId & 0xff]);
  return Buffer.from([type, 3, packetId >> 8, packetId & 0xff, reasonCode]);
}

export const PINGRESP = Buffer.from([0xd0, 0x00]);

/** An MQTT 5 DISCONNECT with a reason code and no properties [MQTT-3.14.2]. */
export function encodeDisconnect(reasonCode: number): Buffer {
  return Buffer.from([0xe0, 0x02, reasonCode, 0x00]);
}
