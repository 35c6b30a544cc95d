import { PINGRESP } from '../codec/acks.js';
import type { Connection } from '../connection.js';

/** PINGREQ: answer PINGRESP [MQTT-3.12.4-1]; the keep alive clock was reset by its arrival. */
export function handlePing(conn: Connection): void {
  conn.send(PINGRESP);
}
