import type { IUnsubscribePacket } from 'mqtt-packet';
import type { ClientContext } from '../context.js';
import { ProtocolViolation, UnsubackCode } from '../reason-codes.js';
import type { Session } from '../session.js';
import { parseFilter } from '../../mqtt/topics.js';

/**
 * UNSUBSCRIBE: filters are compared character by character with the subscribed ones [MQTT-3.10.4-1];
 * UNSUBACK is sent even when none matched [MQTT-3.10.4-5], with one reason code each in MQTT 5.
 */
export function handleUnsubscribe(conn: ClientContext, packet: IUnsubscribePacket): void {
  const session = conn.session as Session;
  if (packet.unsubscriptions.length === 0) {
    throw new ProtocolViolation('protocolError', 'UNSUBSCRIBE without a topic filter [MQTT-3.10.3-2]');
  }
  const codes: number[] = [];
  for (const key of packet.unsubscriptions) {
    const sub = session.subscriptions.get(key);
    if (sub !== undefined) {
      session.subscriptions.delete(key);
      conn.broker.trie.remove(sub);
      codes.push(UnsubackCode.success);
    } else {
      codes.push(parseFilter(key) === null ? UnsubackCode.topicFilterInvalid : UnsubackCode.noSubscriptionExisted);
    }
  }
  const messageId = packet.messageId ?? 0;
  if (conn.v5) conn.sendPacket({ cmd: 'unsuback', messageId, granted: codes });
  else conn.sendPacket({ cmd: 'unsuback', messageId, granted: [] });
}
