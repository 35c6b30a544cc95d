import { CloseReason, GatewayError, type CloseReasonName } from '../errors.js';

/**
 * The one place where the broker's decisions become MQTT codes. Handlers say *what* happened
 * (a refusal name, a violation's close reason); the tables here say how each protocol level puts it.
 */

/** Why a CONNECT is refused, as a 3.1/3.1.1 return code [MQTT-3.2.2.3] and a 5.0 reason code. */
export const ConnectRefusal = {
  unsupportedProtocolVersion: { v4: 0x01, v5: 0x84 },
  identifierRejected: { v4: 0x02, v5: 0x85 },
  serverUnavailable: { v4: 0x03, v5: 0x88 },
  /** Too many password checks running and waiting (see auth/verify-limit.ts). */
  serverBusy: { v4: 0x03, v5: 0x89 },
  /** A new session past BrokerOptions.maxSessions; 3.1.1 has nothing closer than "unavailable". */
  quotaExceeded: { v4: 0x03, v5: 0x97 },
  /** Mosquitto answers 5 (not 4) to 3.1.1 clients with wrong credentials; so do we. */
  badUsernameOrPassword: { v4: 0x05, v5: 0x86 },
  notAuthorized: { v4: 0x05, v5: 0x87 },
  badAuthenticationMethod: { v4: 0x05, v5: 0x8c },
  malformedPacket: { v4: null, v5: 0x81 },
  protocolError: { v4: null, v5: 0x82 },
  topicNameInvalid: { v4: null, v5: 0x90 },
  payloadFormatInvalid: { v4: null, v5: 0x99 },
} as const satisfies Record<string, { v4: number | null; v5: number }>;

export type ConnectRefusalName = keyof typeof ConnectRefusal;

/** PUBACK / PUBREC reason codes [MQTT-3.4.2.1]. */
export const PubackCode = {
  success: 0x00,
  noMatchingSubscribers: 0x10,
  notAuthorized: 0x87,
  packetIdentifierInUse: 0x91,
  quotaExceeded: 0x97,
  payloadFormatInvalid: 0x99,
} as const;

/**
 * Why a PUBLISH is refused, as its PUBACK / PUBREC code and the Reason String that goes with it
 * when the client accepts one [MQTT-3.1.2-29]. A 3.1.1 client cannot be told: it gets a plain
 * acknowledgement.
 */
export const PublishRefusal = {
  notAuthorized: { code: PubackCode.notAuthorized, text: 'not authorized to publish to this topic' },
  /** The retained store is full (see BrokerOptions.maxRetainedMessages). */
  retainedStoreFull: { code: PubackCode.quotaExceeded, text: 'retained message limit reached' },
  payloadFormatInvalid: { code: PubackCode.payloadFormatInvalid, text: 'payload is not valid UTF-8 as its format indicator says' },
} as const satisfies Record<string, { code: number; text: string }>;

export type PublishRefusalName = keyof typeof PublishRefusal;

/** PUBREL / PUBCOMP reason codes [MQTT-3.6.2.1]. */
export const PubrelCode = {
  success: 0x00,
  packetIdentifierNotFound: 0x92,
} as const;

/** SUBACK codes; 3.1.1 only knows the granted QoS and 0x80 [MQTT-3.9.3]. */
export const SubackCode = {
  unspecifiedError: 0x80,
  notAuthorized: 0x87,
  topicFilterInvalid: 0x8f,
  quotaExceeded: 0x97,
} as const;

/** UNSUBACK reason codes, 5.0 only [MQTT-3.11.3]. */
export const UnsubackCode = {
  success: 0x00,
  noSubscriptionExisted: 0x11,
  notAuthorized: 0x87,
  topicFilterInvalid: 0x8f,
} as const;

/** DISCONNECT reason codes a client may send that change what the server does. */
export const ClientDisconnectCode = {
  normal: 0x00,
  withWill: 0x04,
} as const;

/** SUBACK code for a refused subscription, by protocol level: 3.1.1 has only 0x80. */
export function subackRefusal(version: number, code: number): number {
  return version === 5 ? code : SubackCode.unspecifiedError;
}

/**
 * A client broke a protocol rule: the connection must close with `reason`, whose MQTT 5 DISCONNECT
 * code comes from the CloseReason table.
 */
export class ProtocolViolation extends GatewayError {
  constructor(
    readonly reason: CloseReasonName,
    message: string,
  ) {
    super(reason === 'malformedPacket' ? 'ERR_MALFORMED_PACKET' : 'ERR_PROTOCOL_VIOLATION', message);
  }
}

/** The MQTT 5 DISCONNECT reason code for closing with `reason`, if it has one. */
export function disconnectCode(reason: CloseReasonName): number | undefined {
  const entry = CloseReason[reason];
  return 'mqtt5' in entry ? entry.mqtt5 : undefined;
}
