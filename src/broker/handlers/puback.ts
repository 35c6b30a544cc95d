import { AckType } from '../codec/acks.js';
import type { InboundAck } from '../codec/acks-in.js';
import type { ClientContext } from '../context.js';
import { DeliveryState } from '../delivery.js';
import { PubrelCode } from '../reason-codes.js';
import type { Session } from '../session.js';

/** Acknowledgements of messages the broker sent (PUBACK, PUBREC, PUBCOMP) and PUBREL for those it received. */

function sessionOf(conn: ClientContext): Session {
  return conn.session as Session;
}

/** PUBACK ends a QoS 1 delivery; its packet id is free again [MQTT-4.3.2]. */
export function handlePuback(conn: ClientContext, ack: InboundAck): void {
  const session = sessionOf(conn);
  const d = session.inflight.get(ack.packetId);
  if (d === undefined || d.qos !== 1) return;
  session.inflight.complete(d.packetId);
  session.pump();
}

/**
 * PUBREC: answer PUBREL [MQTT-4.3.3-4], unless it is an MQTT 5 PUBREC with a failure reason code,
 * which ends the flow there. An unknown packet id gets PUBREL 0x92 in MQTT 5.
 */
export function handlePubrec(conn: ClientContext, ack: InboundAck): void {
  const session = sessionOf(conn);
  const id = ack.packetId;
  const d = session.inflight.get(id);
  if (d === undefined || d.qos !== 2) {
    conn.sendAck(AckType.pubrel, id, PubrelCode.packetIdentifierNotFound);
    return;
  }
  if (conn.v5 && ack.reasonCode >= 0x80) {
    session.inflight.complete(id);
    session.pump();
    return;
  }
  d.state = DeliveryState.awaitingComp;
  conn.sendPubrel(id);
}

/** PUBCOMP ends a QoS 2 delivery [MQTT-4.3.3]. */
export function handlePubcomp(conn: ClientContext, ack: InboundAck): void {
  const session = sessionOf(conn);
  const d = session.inflight.get(ack.packetId);
  if (d === undefined || d.state !== DeliveryState.awaitingComp) return;
  session.inflight.complete(d.packetId);
  session.pump();
}

/**
 * PUBREL for a QoS 2 message the client sent: forget its packet id, answer PUBCOMP [MQTT-4.3.3-11].
 * The message itself was routed when its PUBLISH arrived; a resent PUBLISH before this PUBREL only
 * gets PUBREC again, never a second delivery [MQTT-4.3.3-10].
 */
export function handlePubrel(conn: ClientContext, ack: InboundAck): void {
  const id = ack.packetId;
  const known = sessionOf(conn).incomingQos2.delete(id);
  conn.sendAck(AckType.pubcomp, id, known ? PubrelCode.success : PubrelCode.packetIdentifierNotFound);
}
