import { isUtf8 } from 'node:buffer';
import { AckType } from '../codec/acks.js';
import type { InboundPublish } from '../codec/publish.js';
import type { ClientContext } from '../context.js';
import { createMessage } from '../message.js';
import { ProtocolViolation, PubackCode, PublishRefusal, type PublishRefusalName } from '../reason-codes.js';
import type { Session } from '../session.js';

/** Topic aliases a client may use towards the broker; announced in CONNACK (Mosquitto's default). */
export const TOPIC_ALIAS_MAXIMUM = 10;

/**
 * PUBLISH from a client: resolve the topic alias, drop QoS 2 duplicates, authorise, route, then
 * acknowledge. QoS 2 uses "method B": the message is routed on PUBLISH and only its packet id is
 * kept until PUBREL, so nothing but a number is stored per message in flight.
 */
export function handlePublish(conn: ClientContext, p: InboundPublish): void {
  const session = conn.session as Session;
  const topic = resolveTopic(conn, p);
  const { qos, packetId } = p;

  if (qos === 2) {
    if (session.incomingQos2.has(packetId)) {
      conn.sendAck(AckType.pubrec, packetId, PubackCode.success);
      return;
    }
    if (conn.v5 && session.incomingQos2.size >= conn.receiveMaximum) {
      throw new ProtocolViolation('receiveMaximumExceeded', `more than ${conn.receiveMaximum} QoS 2 messages awaiting PUBREL [MQTT-3.3.4-9]`);
    }
  }

  const refusal = refusalOf(conn, p, topic);
  let code: number = PubackCode.success;
  let reason: string | undefined;
  if (refusal !== null) {
    conn.log.debug({ topic, refusal }, 'publish refused');
    code = PublishRefusal[refusal].code;
    reason = PublishRefusal[refusal].text;
  } else {
    const msg = createMessage(topic, p.payload, qos, p.retain, p.properties, p.expiry, conn.clientId);
    if (conn.broker.publish(msg) === 0) code = PubackCode.noMatchingSubscribers;
  }

  if (qos === 1) conn.sendAck(AckType.puback, packetId, code, reason);
  else if (qos === 2) {
    // After a failure PUBREC the same packet id starts a new message [MQTT-4.3.3-9].
    if (code < 0x80 || !conn.v5) session.incomingQos2.add(packetId);
    conn.sendAck(AckType.pubrec, packetId, code, reason);
  }
}

/**
 * Why the message must not be routed, if it must not. 3.1.1 has no way to say so: a message it may
 * not publish is dropped and still acknowledged, as Mosquitto does.
 */
function refusalOf(conn: ClientContext, p: InboundPublish, topic: string): PublishRefusalName | null {
  const acl = conn.broker.acl;
  if (acl !== null && !acl.canPublish(conn.who, topic)) return 'notAuthorized';
  if (p.utf8Payload && !isUtf8(p.payload)) return 'payloadFormatInvalid';
  // A retained message the full store cannot keep is refused whole only where the refusal can be
  // told (0x97 means the PUBLISH failed); otherwise it still goes to live subscribers, unretained.
  if (p.retain && p.qos > 0 && conn.v5 && conn.broker.retained.refuses(topic, p.payload)) {
    conn.broker.retainedRefused(topic);
    return 'retainedStoreFull';
  }
  return null;
}

/** The topic name, from the packet or its alias [MQTT-3.3.2-10] [MQTT-3.3.2-12]. */
function resolveTopic(conn: ClientContext, p: InboundPublish): string {
  const alias = p.topicAlias;
  if (alias === 0) {
    if (p.topic === '') throw new ProtocolViolation('protocolError', 'empty topic name without topic alias [MQTT-3.3.2-1]');
    return p.topic;
  }
  if (alias > TOPIC_ALIAS_MAXIMUM) {
    throw new ProtocolViolation('topicAliasInvalid', `topic alias ${alias} above the maximum ${TOPIC_ALIAS_MAXIMUM} [MQTT-3.3.2-9]`);
  }
  if (p.topic !== '') {
    conn.aliases.set(alias, p.topic);
    return p.topic;
  }
  const topic = conn.aliases.get(alias);
  if (topic === undefined) throw new ProtocolViolation('protocolError', `topic alias ${alias} was never set`);
  return topic;
}
