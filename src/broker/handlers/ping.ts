import { PINGRESP } from '../codec/acks.js';
import type { ClientContext } from '../context.js';

/** PINGREQ: answer PINGRESP [MQTT-3.12.4-1]; the keep alive clock was reset by its arrival. */
export function handlePing(conn: ClientContext): void {
  conn.send(PINGRESP);
}
