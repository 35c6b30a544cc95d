import type { IDisconnectPacket } from 'mqtt-packet';
import type { ClientContext } from '../context.js';
import { ClientDisconnectCode, ProtocolViolation } from '../reason-codes.js';
import type { Session } from '../session.js';

/**
 * DISCONNECT from the client: a normal close, so the will is dropped [MQTT-3.14.4-3] unless an
 * MQTT 5 client asks for it with 0x04. MQTT 5 may change the Session Expiry Interval here, but not
 * from 0 to something else [MQTT-3.14.2-2].
 */
export function handleDisconnect(conn: ClientContext, packet: IDisconnectPacket): void {
  const session = conn.session as Session;
  const expiry = packet.properties?.sessionExpiryInterval;
  if (conn.v5 && expiry !== undefined) {
    if (session.expiryInterval === 0 && expiry !== 0) {
      throw new ProtocolViolation('protocolError', 'session expiry set in DISCONNECT after 0 in CONNECT [MQTT-3.14.2-2]');
    }
    session.expiryInterval = expiry;
  }
  const withWill = conn.v5 && packet.reasonCode === ClientDisconnectCode.withWill;
  conn.log.debug({ reasonCode: packet.reasonCode }, 'client sent DISCONNECT');
  conn.close('clientDisconnect', withWill);
}
