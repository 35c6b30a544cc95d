/**
 * Why a client connection ends, and how each reason is said on the wire.
 * `ws` is the WebSocket close code (RFC 6455 §7.4); raw TCP clients are simply ended or dropped.
 * `mqtt5` is the DISCONNECT reason code sent to MQTT 5 clients before closing, where one applies.
 */
export const CloseReason = {
  clientClosed: { ws: 1000, text: 'client closed' },
  backendClosed: { ws: 1000, text: 'backend closed the connection' },
  backendLost: { ws: 1011, text: 'backend connection failed' },
  backendUnreachable: { ws: 1013, text: 'backend unreachable' },
  protocolError: { ws: 1002, text: 'protocol error', mqtt5: 0x82 },
  firstPacketNotConnect: { ws: 1002, text: 'first packet was not CONNECT' },
  textFrame: { ws: 1003, text: 'text frames are not MQTT' },
  invalidPayload: { ws: 1007, text: 'invalid frame payload' },
  packetTooLarge: { ws: 1009, text: 'packet too large', mqtt5: 0x95 },
  connectTimeout: { ws: 1008, text: 'no CONNECT within the timeout' },
  tlsClientRefused: { ws: 1008, text: 'client certificate refused' },
  serverShutdown: { ws: 1001, text: 'server shutting down', mqtt5: 0x8b },
  takenOver: { ws: 1000, text: 'session taken over', mqtt5: 0x8e },
  keepAliveTimeout: { ws: 1000, text: 'keep alive timeout', mqtt5: 0x8d },
  notAuthorized: { ws: 1008, text: 'not authorized', mqtt5: 0x87 },
  internalError: { ws: 1011, text: 'internal error', mqtt5: 0x80 },
  clientDisconnect: { ws: 1000, text: 'client sent DISCONNECT' },
  connectRefused: { ws: 1008, text: 'CONNECT refused' },
  malformedPacket: { ws: 1002, text: 'malformed packet', mqtt5: 0x81 },
  receiveMaximumExceeded: { ws: 1008, text: 'receive maximum exceeded', mqtt5: 0x93 },
  topicAliasInvalid: { ws: 1002, text: 'topic alias invalid', mqtt5: 0x94 },
  quotaExceeded: { ws: 1008, text: 'quota exceeded', mqtt5: 0x97 },
  // Identity, limits and scale-out. Expired credentials are "not authorized" (0x87), not 0xA0 "maximum
  // connect time": the client may reconnect at once with a fresh token, which 0xA0 would not suggest.
  tokenExpired: { ws: 1008, text: 'credentials expired', mqtt5: 0x87 },
  pongTimeout: { ws: 1001, text: 'no pong to a WebSocket ping' },
} as const satisfies Record<string, { ws: number; text: string; mqtt5?: number }>;

export type CloseReasonName = keyof typeof CloseReason;

/** Base of every error the gateway raises on purpose: a stable `code` to match on, and a `cause`. */
export class GatewayError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A byte stream that is not valid MQTT framing; `reason` says how the connection must close. */
export class FramingError extends GatewayError {
  constructor(
    readonly reason: 'protocolError' | 'packetTooLarge',
    message: string,
  ) {
    super(reason === 'packetTooLarge' ? 'ERR_PACKET_TOO_LARGE' : 'ERR_MALFORMED_PACKET', message);
  }
}

/** Configuration that cannot be used; the message names every bad variable. */
export class ConfigError extends GatewayError {
  constructor(readonly problems: readonly string[]) {
    super('ERR_CONFIG', `invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}
