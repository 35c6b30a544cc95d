export type QoS = 0 | 1 | 2;

/**
 * An application message as the broker routes it. Built once per PUBLISH (or will) and shared by
 * every subscriber that gets it: per-subscriber differences (QoS, retain flag, packet id, DUP,
 * subscription identifiers) are applied when it is encoded.
 */
export interface Message {
  readonly topic: string;
  /** UTF-8 length of `topic`. */
  readonly topicBytes: number;
  payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  /**
   * MQTT 5 properties forwarded unaltered [MQTT-3.3.2-4] [MQTT-3.3.2-17] [MQTT-3.3.2-18], still
   * encoded: payload format indicator, content type, response topic, correlation data, user
   * properties. Empty when there are none.
   */
  properties: Buffer;
  /** Message Expiry Interval as a deadline in ms since the epoch; 0 when it never expires. */
  readonly expiresAt: number;
  /** Client id of the publisher, for the No Local option [MQTT-3.8.3-3]; null for none. */
  readonly originId: string | null;
  /** false while payload/properties may be views of the receive buffer. */
  owned: boolean;
  /** Encodings shared by subscribers while one publish is being routed; see encode-cache. */
  cache: (Buffer | undefined)[] | null;
}

const EMPTY = Buffer.alloc(0);

export function createMessage(
  topic: string,
  payload: Buffer,
  qos: QoS,
  retain: boolean,
  properties: Buffer = EMPTY,
  expirySeconds = -1,
  originId: string | null = null,
): Message {
  return {
    topic,
    topicBytes: Buffer.byteLength(topic),
    payload,
    qos,
    retain,
    properties,
    expiresAt: expirySeconds >= 0 ? Date.now() + expirySeconds * 1000 : 0,
    originId,
    owned: false,
    cache: null,
  };
}

/**
 * Copies the payload and properties out of the receive buffer, once, before a message outlives the
 * packet it came in (queued, in flight, retained): a small view must not pin a large chunk.
 */
export function own(msg: Message): void {
  if (msg.owned) return;
  msg.payload = Buffer.from(msg.payload);
  if (msg.properties.length > 0) msg.properties = Buffer.from(msg.properties);
  msg.owned = true;
}

/**
 * Seconds left of the Message Expiry Interval, as sent on to a subscriber [MQTT-3.3.2-6]:
 * -1 when the message has none, 0 when it has expired and must not be sent [MQTT-3.3.2-5].
 */
export function expiryLeft(msg: Message, now: number): number {
  if (msg.expiresAt === 0) return -1;
  const left = Math.ceil((msg.expiresAt - now) / 1000);
  return left > 0 ? left : 0;
}
