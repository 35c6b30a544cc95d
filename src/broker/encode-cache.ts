import { encodePublish, packetIdOffset } from './codec/publish.js';
import type { Message, QoS } from './message.js';

/**
 * While one message is routed, subscribers that get the same bytes share one encoding: same
 * protocol level, QoS and retain flag, no per-subscriber properties. QoS 1/2 encodings are copied
 * and given their packet identifier. Slot: v5 × 6 + QoS × 2 + retain.
 */
export function cachedPublish(msg: Message, v5: boolean, qos: QoS, retain: boolean, packetId: number): Buffer {
  const cache = msg.cache as (Buffer | undefined)[];
  const slot = (v5 ? 6 : 0) + qos * 2 + (retain ? 1 : 0);
  let template = cache[slot];
  if (template === undefined) {
    template = encodePublish(msg, { v5, qos, retain, dup: false, packetId: 0, expiry: -1, subIds: null });
    cache[slot] = template;
  }
  if (qos === 0) return template;
  const bytes = Buffer.allocUnsafe(template.length);
  template.copy(bytes);
  bytes.writeUInt16BE(packetId, packetIdOffset(template, msg));
  return bytes;
}
