import type { ISubscribePacket } from 'mqtt-packet';
import type { ClientContext } from '../context.js';
import type { QoS } from '../message.js';
import { ProtocolViolation, SubackCode, subackRefusal } from '../reason-codes.js';
import type { Session } from '../session.js';
import { RetainHandling, type RetainHandlingValue, type Subscription } from '../subscription.js';
import { parseFilter } from '../../mqtt/topics.js';

/** U+FFFD as UTF-8: mqtt-packet decodes invalid UTF-8 to it, so its absence in the bytes betrays that. */
const REPLACEMENT = Buffer.from('\ufffd');

/**
 * SUBSCRIBE: validate each filter, authorise it, add or replace the subscription [MQTT-3.8.4-3],
 * answer SUBACK with one code per filter in order [MQTT-3.8.4-6], then send the retained messages
 * the subscription asks for [MQTT-3.3.1-9].
 */
export function handleSubscribe(conn: ClientContext, packet: ISubscribePacket, raw: Buffer): void {
  const session = conn.session as Session;
  const broker = conn.broker;
  if (packet.subscriptions.length === 0) throw new ProtocolViolation('protocolError', 'SUBSCRIBE without a topic filter [MQTT-3.8.3-2]');
  if (!packet.messageId) throw new ProtocolViolation('protocolError', 'SUBSCRIBE with packet identifier 0 [MQTT-2.2.1-3]');
  const subId = packet.properties?.subscriptionIdentifier;
  if (Array.isArray(subId)) throw new ProtocolViolation('protocolError', 'more than one subscription identifier');
  if (subId === 0) throw new ProtocolViolation('protocolError', 'subscription identifier 0 (MQTT 5 section 3.8.2.1.2)');

  const granted: number[] = [];
  const fresh: Subscription[] = [];
  for (const s of packet.subscriptions) {
    if (s.topic.includes('\ufffd') && !raw.includes(REPLACEMENT)) {
      throw new ProtocolViolation('malformedPacket', 'topic filter is not valid UTF-8 [MQTT-1.5.4-1]');
    }
    const parsed = parseFilter(s.topic);
    if (parsed === null) {
      // Mosquitto closes a 3.1.1 client for this; MQTT 5 has a reason code for it.
      if (!conn.v5) throw new ProtocolViolation('protocolError', `invalid topic filter "${s.topic}"`);
      granted.push(SubackCode.topicFilterInvalid);
      continue;
    }
    if (parsed.group !== null && s.nl === true) {
      throw new ProtocolViolation('protocolError', 'No Local on a shared subscription [MQTT-3.8.3-4]');
    }
    if (broker.acl !== null && !broker.acl.canSubscribe(conn.who, parsed.filter)) {
      conn.log.debug({ filter: s.topic }, 'subscribe not authorised');
      granted.push(subackRefusal(conn.version, SubackCode.notAuthorized));
      continue;
    }
    const existed = session.subscriptions.has(s.topic);
    const sub: Subscription = {
      session,
      key: s.topic,
      filter: parsed.filter,
      group: parsed.group,
      qos: s.qos as QoS,
      noLocal: s.nl === true,
      retainAsPublished: s.rap === true,
      retainHandling: (s.rh ?? RetainHandling.always) as RetainHandlingValue,
      id: subId ?? 0,
    };
    session.subscriptions.set(s.topic, sub);
    broker.trie.add(sub);
    granted.push(sub.qos);
    // Retained messages are not sent for shared subscriptions (MQTT 5 section 4.8.2).
    const wantsRetained =
      sub.retainHandling === RetainHandling.always || (sub.retainHandling === RetainHandling.ifNew && !existed);
    if (parsed.group === null && wantsRetained) fresh.push(sub);
  }

  conn.sendPacket({ cmd: 'suback', messageId: packet.messageId, granted });

  for (const sub of fresh) {
    const subIds = sub.id !== 0 ? [sub.id] : null;
    for (const msg of broker.retained.match(sub.filter)) {
      if (sub.noLocal && msg.originId === conn.clientId) continue;
      session.deliver(msg, sub.qos < msg.qos ? sub.qos : msg.qos, true, subIds);
    }
  }
}
