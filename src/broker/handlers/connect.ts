import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { IConnackPacket, IConnectPacket } from 'mqtt-packet';
import type { ClientLink } from '../../upstream/upstream.js';
import type { Broker } from '../broker.js';
import { Connection, ConnectionState } from '../connection.js';
import { KeepAlive } from '../keepalive.js';
import { ConnectRefusal, type ConnectRefusalName } from '../reason-codes.js';
import { SESSION_NEVER_EXPIRES, type Session } from '../session.js';
import { isValidTopicName } from '../topics.js';
import { willFromConnect } from '../will.js';
import { TOPIC_ALIAS_MAXIMUM } from './publish.js';

/** mqtt-packet turns invalid UTF-8 into U+FFFD; if the bytes hold no real U+FFFD, the string was invalid. */
const REPLACEMENT = Buffer.from('\ufffd');

/**
 * CONNECT, as a list of steps (validate, authenticate, authorise, attach the session, answer):
 * nothing changes in the broker until the client is known to be acceptable.
 * Resolves with the connection, closed already when the client was refused.
 */
export async function handleConnect(broker: Broker, link: ClientLink): Promise<Connection> {
  const conn = new Connection(broker, link);
  const connect = link.connect;
  const refusal =
    validate(conn, connect, link.connectBytes) ??
    (await authenticate(broker, connect)) ??
    authorise(broker, conn, connect) ??
    (broker.closing ? 'serverUnavailable' : null);
  if (refusal !== null) refuse(conn, refusal);
  else accept(broker, conn, connect);
  return conn;
}

/** Checks CONNECT beyond what the decoder did; may assign the client id. */
function validate(conn: Connection, connect: IConnectPacket, bytes: Buffer): ConnectRefusalName | null {
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

/** Anonymous unless a password file is configured; then a known user with the right password. */
async function authenticate(broker: Broker, connect: IConnectPacket): Promise<ConnectRefusalName | null> {
  const passwords = broker.passwords;
  if (passwords === null) return null;
  if (connect.username === undefined) return 'notAuthorized';
  return (await passwords.authenticate(connect.username, connect.password)) ? null : 'badUsernameOrPassword';
}

/** The will must be publishable by this client, checked now rather than when it is too late to say. */
function authorise(broker: Broker, conn: Connection, connect: IConnectPacket): ConnectRefusalName | null {
  const will = connect.will;
  if (broker.acl === null || will === undefined) return null;
  return broker.acl.canPublish(conn.who, will.topic) ? null : 'notAuthorized';
}

/** CONNACK with the refusal's code where the protocol level has one [MQTT-3.2.2-6], then close. */
function refuse(conn: Connection, name: ConnectRefusalName): void {
  const codes = ConnectRefusal[name];
  const code = conn.v5 ? codes.v5 : codes.v4;
  conn.log.info({ refusal: name, code }, 'CONNECT refused');
  if (code !== null) {
    const connack: IConnackPacket = conn.v5
      ? { cmd: 'connack', reasonCode: code, sessionPresent: false }
      : { cmd: 'connack', returnCode: code, sessionPresent: false };
    conn.sendPacket(connack);
  }
  const auth = name === 'notAuthorized' || name === 'badUsernameOrPassword';
  conn.close(auth ? 'notAuthorized' : code === null ? 'protocolError' : 'connectRefused', false);
}

function accept(broker: Broker, conn: Connection, connect: IConnectPacket): void {
  const clean = connect.clean !== false;
  const props = connect.properties;
  // Before MQTT 5, Clean Session 0 keeps the session for ever, 1 ends it with the connection.
  const expiry = conn.v5 ? (props?.sessionExpiryInterval ?? 0) : clean ? 0 : SESSION_NEVER_EXPIRES;
  if (props?.receiveMaximum !== undefined) conn.sendQuota = Math.min(conn.sendQuota, props.receiveMaximum);
  if (props?.maximumPacketSize !== undefined) conn.maxPacketOut = props.maximumPacketSize;

  const present = broker.attach(conn, clean, expiry);
  const session = conn.session as Session;
  conn.will = willFromConnect(connect, conn.clientId);
  conn.state = ConnectionState.connected;
  const keepalive = connect.keepalive ?? 0;
  if (keepalive > 0) {
    conn.keepAlive = new KeepAlive(
      keepalive,
      () => conn.blocked,
      () => {
        conn.log.info({ keepalive }, 'keep alive expired');
        conn.close('keepAliveTimeout', true);
      },
    );
  }

  const connack: IConnackPacket = { cmd: 'connack', sessionPresent: present };
  if (conn.v5) {
    connack.reasonCode = 0;
    connack.properties = {
      receiveMaximum: conn.receiveMaximum,
      maximumPacketSize: broker.options.maxPacketSize,
      topicAliasMaximum: TOPIC_ALIAS_MAXIMUM,
    };
    if (conn.clientId !== connect.clientId) connack.properties.assignedClientIdentifier = conn.clientId;
  } else {
    connack.returnCode = 0;
  }
  conn.sendPacket(connack);
  conn.log.debug({ sessionPresent: present, expiry, keepalive }, 'CONNECT accepted');
  session.resume();
}
