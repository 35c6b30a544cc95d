import { PacketType } from '../mqtt/framer.js';
import { decodeAck } from './codec/acks-in.js';
import { decodePublish } from './codec/publish.js';
import type { ClientContext } from './context.js';
import { handleDisconnect } from './handlers/disconnect.js';
import { handlePing } from './handlers/ping.js';
import { handlePuback, handlePubcomp, handlePubrec, handlePubrel } from './handlers/puback.js';
import { handlePublish } from './handlers/publish.js';
import { handleSubscribe } from './handlers/subscribe.js';
import { handleUnsubscribe } from './handlers/unsubscribe.js';
import { ProtocolViolation } from './reason-codes.js';

/**
 * Every packet after CONNECT comes through here, once the connection is connected (the
 * Connection gates on that). PUBLISH and its acknowledgements take the broker's own decoders
 * (they are the hot path); the rest mqtt-packet's.
 * Handlers throw ProtocolViolation; the Connection turns it into the close.
 */
export function dispatch(conn: ClientContext, raw: Buffer): void {
  switch ((raw[0] as number) >> 4) {
    case PacketType.publish:
      return handlePublish(conn, decodePublish(raw, conn.v5));
    case PacketType.puback:
      return handlePuback(conn, decodeAck(raw, conn.v5));
    case PacketType.pubrec:
      return handlePubrec(conn, decodeAck(raw, conn.v5));
    case PacketType.pubrel:
      return handlePubrel(conn, decodeAck(raw, conn.v5));
    case PacketType.pubcomp:
      return handlePubcomp(conn, decodeAck(raw, conn.v5));
  }
  const packet = conn.decoder.decode(raw);
  switch (packet.cmd) {
    case 'subscribe':
      return handleSubscribe(conn, packet, raw);
    case 'unsubscribe':
      return handleUnsubscribe(conn, packet);
    case 'pingreq':
      return handlePing(conn);
    case 'disconnect':
      return handleDisconnect(conn, packet);
    case 'connect':
      throw new ProtocolViolation('protocolError', 'second CONNECT [MQTT-3.1.0-2]');
    case 'auth':
      // No enhanced authentication method was agreed in CONNECT [MQTT-4.12.0-1].
      throw new ProtocolViolation('protocolError', 'AUTH without an authentication method');
    default:
      throw new ProtocolViolation('protocolError', `${packet.cmd} is not a packet a client sends`);
  }
}
