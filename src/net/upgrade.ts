import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/** Subprotocols that mean "MQTT over WebSocket" [MQTT-6.0.0-3]; mqttv3.1 is what MQTT 3.1 clients offer. */
export const MQTT_SUBPROTOCOLS: readonly string[] = ['mqtt', 'mqttv3.1'];

export interface UpgradePolicy {
  readonly allowedOrigins: readonly string[] | null;
  readonly requireSubprotocol: boolean;
  readonly atCapacity: () => boolean;
}

export type Refusal = { readonly status: number; readonly reason: string };

/**
 * The checks a WebSocket upgrade on an MQTT path passes, in order; the first that fails answers
 * with its HTTP status. (Path and header size are checked before: by routing, and by Node's parser.)
 */
export function checkUpgrade(req: IncomingMessage, policy: UpgradePolicy): Refusal | null {
  const origin = req.headers.origin?.toLowerCase();
  if (origin !== undefined && policy.allowedOrigins !== null && !policy.allowedOrigins.includes(origin)) {
    return { status: 403, reason: 'origin not allowed' };
  }
  if (policy.atCapacity()) return { status: 503, reason: 'connection limit reached' };
  const offered = offeredSubprotocols(req);
  if (offered.length === 0 ? policy.requireSubprotocol : chooseSubprotocol(offered) === undefined) {
    return { status: 400, reason: `subprotocol must be one of ${MQTT_SUBPROTOCOLS.join(', ')}` };
  }
  return null;
}

/** Sec-WebSocket-Protocol may be repeated and each may be a comma list (RFC 6455 §4.1). */
export function offeredSubprotocols(req: IncomingMessage): string[] {
  const header = req.headers['sec-websocket-protocol'];
  if (header === undefined) return [];
  return header
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

/** The first protocol the client offered that we speak (the client's order is its preference). */
export function chooseSubprotocol(offered: Iterable<string>): string | undefined {
  for (const protocol of offered) if (MQTT_SUBPROTOCOLS.includes(protocol.toLowerCase())) return protocol;
  return undefined;
}

/** Answers a refused upgrade with a real HTTP response, then drops the socket. */
export function refuseUpgrade(socket: Duplex, { status, reason }: Refusal): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${reason}\n`;
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
