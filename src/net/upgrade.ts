import { createHash } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/** Subprotocols that mean "MQTT over WebSocket" [MQTT-6.0.0-3]; mqttv3.1 is what MQTT 3.1 clients offer. */
export const MQTT_SUBPROTOCOLS: readonly string[] = ['mqtt', 'mqttv3.1'];

export interface UpgradePolicy {
  readonly allowedOrigins: readonly string[] | null;
  readonly requireSubprotocol: boolean;
  readonly atCapacity: () => boolean;
}

export type Refusal = {
  readonly status: number;
  readonly reason: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Not a WebSocket opening handshake at all (counted apart from the policy refusals). */
  readonly malformed?: true;
};

/** The nonce a client sends: 16 bytes in base64 (RFC 6455 §4.1). */
const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{22}==$/;
const SUPPORTED_VERSIONS = ['13', '8'];
/** Appended to the client's key to prove the server speaks WebSocket (RFC 6455 §1.3). */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * The checks a WebSocket upgrade on an MQTT path passes, in order; the first that fails answers
 * with its HTTP status. (Path and header size are checked before: by routing, and by Node's parser.)
 */
export function checkUpgrade(req: IncomingMessage, policy: UpgradePolicy): Refusal | null {
  const malformed = checkHandshake(req);
  if (malformed) return malformed;
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

/** Is this a WebSocket opening handshake at all (RFC 6455 §4.2.1)? */
function checkHandshake(req: IncomingMessage): Refusal | null {
  if (req.method !== 'GET') return { status: 405, reason: 'a WebSocket handshake is a GET', headers: { Allow: 'GET' }, malformed: true };
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') return { status: 400, reason: 'Upgrade must be websocket', malformed: true };
  if (!WEBSOCKET_KEY.test(req.headers['sec-websocket-key'] ?? '')) {
    return { status: 400, reason: 'missing or invalid Sec-WebSocket-Key', malformed: true };
  }
  // 8 is the last draft (hybi-10), framed as 13 is; the ws library accepted both.
  if (!SUPPORTED_VERSIONS.includes(req.headers['sec-websocket-version'] ?? '')) {
    return { status: 426, reason: 'WebSocket version 13 is required', headers: { 'Sec-WebSocket-Version': '13, 8' }, malformed: true };
  }
  return null;
}

/**
 * Completes an opening handshake that passed checkUpgrade: from the next byte on, the socket
 * carries WebSocket frames.
 */
export function switchProtocols(socket: Duplex, req: IncomingMessage, protocol: string | undefined): void {
  const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${WEBSOCKET_GUID}`).digest('base64');
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\n` +
      (protocol === undefined ? '' : `Sec-WebSocket-Protocol: ${protocol}\r\n`) +
      '\r\n',
  );
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
export function refuseUpgrade(socket: Duplex, { status, reason, headers = {} }: Refusal): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${reason}\n`;
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
      Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('') +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
