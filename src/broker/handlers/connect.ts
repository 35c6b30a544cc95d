import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { IConnackPacket, IConnectPacket } from 'mqtt-packet';
import { VERIFY_BUSY } from '../auth/verify-limit.js';
import { ConnectionState, type BrokerContext, type ClientContext } from '../context.js';
import { ConnectRefusal, type ConnectRefusalName } from '../reason-codes.js';
import { SESSION_NEVER_EXPIRES, type Session } from '../session.js';
import { isValidTopicName } from '../../mqtt/topics.js';
import { willFromConnect } from '../will.js';
import { TOPIC_ALIAS_MAXIMUM } from './publish.js';

/** mqtt-packet turns invalid UTF-8 into U+FFFD; if the bytes hold no real U+FFFD, the string was invalid. */
const REPLACEMENT = Buffer.from('\ufffd');

/**
 * Response Information is `response/<client id>/` (MQTT 5 section 4.10): the start of the Response
 * Topics the client may use, one level of its own under this prefix (an ACL can grant it with
 * `pattern readwrite response/%c/#`). Nothing enforces it; it is a convention offered to clients.
 */
export const RESPONSE_TOPIC_PREFIX = 'response/';

/**
 * CONNECT, as a list of steps (validate, authenticate, authorise, make room for the session,
 * attach it, answer): nothing changes in the broker until the client is known to be acceptable.
 * Everything after the one await is synchronous, so the room checked for is still there at attach.
 * The connection is left closed when the client was refused.
 */
export async function handleConnect(conn: ClientContext, connect: IConnectPacket, bytes: Buffer): Promise<void> {
  const broker = conn.broker;
  const refusal =
    validate(conn, connect, bytes) ??
    (await authenticate(broker, connect)) ??
    authorise(broker, conn, connect) ??
    (broker.closing ? 'serverUnavailable' : null) ??
    admit(broker, conn);
  if (refusal !== null) refuse(conn, refusal);
  else accept(broker, conn, connect);
}

/** Checks CONNECT beyond what the decoder did; may assign the client id. */
function validate(conn: ClientContext, connect: IConnectPacket, bytes: Buffer): ConnectRefusalName | null {
  const version = conn.version;
  // "MQIsdp" goes with level 3 only, "MQTT" with 4 and 5 [MQTT-3.1.2-2].
  if ((connect.protocolId === 'MQIsdp') !== (version === 3)) return 'unsupportedProtocolVersion';
  const suspicious = (text: string | undefined) => text !== undefined && text.includes('\ufffd') && !bytes.includes(REPLACEMENT);
  if (suspicious(connect.clientId) || suspicious(connect.username) || suspicious(connect.will?.topic)) {
    return 'malformedPacket';
  }
  // A password without a user name is not allowed before MQTT 5 [MQTT-3.1.2-22].
  if (version !== 5 && connect.password !== undefined && connect.username === undefined) return 'malformedPacket';

  const will = connect.will;
  if (will !== undefined) {
    if ((will.qos ?? 0) > 2) return 'malformedPacket';
    if (!isValidTopicName(will.topic)) return 'topicNameInvalid';
    if (will.properties?.payloadFormatIndicator === true && !isUtf8(Buffer.from(will.payload))) return 'payloadFormatInvalid';
  }

  const props = connect.properties;
  if (props !== undefined) {
    if (props.receiveMaximum === 0 || props.maximumPacketSize === 0) return 'protocolError';
    // No enhanced authentication method is supported [MQTT-4.12.0-1].
    if (props.authenticationMethod !== undefined) return 'badAuthenticationMethod';
  }

  if (connect.clientId.includes('\u0000')) return 'identifierRejected';
  if (connect.clientId === '') {
    // 3.1 has no empty ids; 3.1.1 allows them only with a clean session [MQTT-3.1.3-7] [MQTT-3.1.3-8].
    if (version === 3 || (version === 4 && connect.clean === false)) return 'identifierRejected';
    conn.clientId = `auto-${randomUUID()}`;
    conn.log = conn.log.child({ clientId: conn.clientId });
  }
  return null;
}

/**
 * Anonymous unless a password file is configured; then a known user with the right password.
 * The check (scrypt) waits its turn among a bounded few; when too many wait already, the server is busy.
 */
async function authenticate(broker: BrokerContext, connect: IConnectPacket): Promise<ConnectRefusalName | null> {
  const passwords = broker.passwords;
  if (passwords === null) return null;
  const { username, password } = connect;
  if (username === undefined) return 'notAuthorized';
  // Nothing to hash: no need to queue for it.
  if (password === undefined) return 'badUsernameOrPassword';
  const verdict = await broker.verifications.run(() => passwords.authenticate(username, password));
  if (verdict === VERIFY_BUSY) return 'serverBusy';
  return verdict ? null : 'badUsernameOrPassword';
}

/** The will must be publishable by this client, checked now rather than when it is too late to say. */
function authorise(broker: BrokerContext, conn: ClientContext, connect: IConnectPacket): ConnectRefusalName | null {
  const will = connect.will;
  if (broker.acl === null || will === undefined) return null;
  return broker.acl.canPublish(conn.who, will.topic) ? null : 'notAuthorized';
}

/** A new client id needs a session slot (BrokerOptions.maxSessions); one that has a session keeps it. */
function admit(broker: BrokerContext, conn: ClientContext): ConnectRefusalName | null {
  return broker.admitsSession(conn.clientId) ? null : 'quotaExceeded';
}

/** CONNACK with the refusal's code where the protocol level has one [MQTT-3.2.2-6], then close. */
function refuse(conn: ClientContext, name: ConnectRefusalName): void {
  const codes = ConnectRefusal[name];
  const code = conn.v5 ? codes.v5 : codes.v4;
  logRefusal(conn, name, code);
  if (code !== null) {
    const connack: IConnackPacket = conn.v5
      ? { cmd: 'connack', reasonCode: code, sessionPresent: false }
      : { cmd: 'connack', returnCode: code, sessionPresent: false };
    conn.sendPacket(connack);
  }
  const auth = name === 'notAuthorized' || name === 'badUsernameOrPassword';
  conn.close(auth ? 'notAuthorized' : code === null ? 'protocolError' : 'connectRefused', false);
}

/**
 * One line per refusal. The operator must learn of a full session store (warn, with the limit);
 * a busy refusal is logged once per burst by the broker, so each one is only debug here.
 */
function logRefusal(conn: ClientContext, name: ConnectRefusalName, code: number | null): void {
  if (name === 'quotaExceeded') {
    const { sessionCount: sessions, options } = conn.broker;
    conn.log.warn({ refusal: name, code, sessions, limit: options.maxSessions }, 'CONNECT refused: session limit reached');
  } else if (name === 'serverBusy') {
    conn.log.debug({ refusal: name, code }, 'CONNECT refused');
  } else {
    conn.log.info({ refusal: name, code }, 'CONNECT refused');
  }
}

function accept(broker: BrokerContext, conn: ClientContext, connect: IConnectPacket): void {
  const clean = connect.clean !== false;
  const props = connect.properties;
  // Before MQTT 5, Clean Session 1 ends the session with the connection; 0 keeps it for ever,
  // unless the operator bounds it (as Mosquitto's persistent_client_expiration), from disconnect.
  const persistent = broker.options.persistentSessionExpirySeconds || SESSION_NEVER_EXPIRES;
  const expiry = conn.v5 ? (props?.sessionExpiryInterval ?? 0) : clean ? 0 : persistent;
  if (props?.receiveMaximum !== undefined) conn.sendQuota = Math.min(conn.sendQuota, props.receiveMaximum);
  if (props?.maximumPacketSize !== undefined) conn.maxPacketOut = props.maximumPacketSize;
  if (props?.requestProblemInformation === false) conn.problemInfo = false;

  const present = broker.attach(conn, clean, expiry);
  const session = conn.session as Session;
  conn.will = willFromConnect(connect, conn.clientId);
  conn.state = ConnectionState.connected;
  const requested = connect.keepalive ?? 0;
  const keepalive = conn.v5 ? keepAliveFor(requested, broker.options.maxKeepAliveSeconds) : requested;
  conn.startKeepAlive(keepalive);

  const connack: IConnackPacket = { cmd: 'connack', sessionPresent: present };
  if (conn.v5) {
    connack.reasonCode = 0;
    connack.properties = {
      receiveMaximum: conn.receiveMaximum,
      maximumPacketSize: broker.options.maxPacketSize,
      topicAliasMaximum: TOPIC_ALIAS_MAXIMUM,
    };
    if (conn.clientId !== connect.clientId) connack.properties.assignedClientIdentifier = conn.clientId;
    // The client must use ours instead of its own [MQTT-3.2.2-21]; without it, its own holds [MQTT-3.2.2-22].
    if (keepalive !== requested) connack.properties.serverKeepAlive = keepalive;
    // Only when asked for [MQTT-3.1.2-28].
    const responseInformation = props?.requestResponseInformation === true ? responseInformationFor(conn.clientId) : null;
    if (responseInformation !== null) connack.properties.responseInformation = responseInformation;
  } else {
    connack.returnCode = 0;
  }
  conn.sendPacket(connack);
  conn.log.debug({ sessionPresent: present, expiry, keepalive, requestedKeepalive: requested }, 'CONNECT accepted');
  session.resume();
}

/**
 * The Keep Alive the broker holds an MQTT 5 client to: the one it asked for, unless a cap is set
 * and it asked for none (0) or more than the cap. Before MQTT 5 a client cannot be told, and one
 * that pings as it said it would must not be cut off: its own Keep Alive stands [MQTT-3.1.2-24],
 * as with Mosquitto 2.0.11's max_keepalive ("this only applies to MQTT v5 clients").
 */
function keepAliveFor(requested: number, max: number): number {
  return max > 0 && (requested === 0 || requested > max) ? max : requested;
}

/**
 * `response/<client id>/`, or null when the client id would not make one topic level of its own
 * (a `/` would split it; `+` and `#` have no place in a topic name [MQTT-3.3.2-2]).
 */
function responseInformationFor(clientId: string): string | null {
  if (clientId === '' || /[/+#]/.test(clientId)) return null;
  return `${RESPONSE_TOPIC_PREFIX}${clientId}/`;
}
