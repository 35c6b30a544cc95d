import type { Packet } from 'mqtt-packet';
import type { Logger } from 'pino';
import type { CloseReasonName } from '../errors.js';
import type { PacketDecoder } from '../mqtt/codec.js';
import type { Acl, AclSubject } from './auth/acl.js';
import type { PasswordFile } from './auth/password-file.js';
import type { VerifyLimit } from './auth/verify-limit.js';
import type { AckTypeByte } from './codec/acks.js';
import type { Message } from './message.js';
import type { ResolvedBrokerOptions } from './options.js';
import type { RetainedStore } from './retained.js';
import type { Outlet, Session } from './session.js';
import type { SubscriptionTrie } from './topic-trie.js';
import type { Will } from './will.js';

/**
 * What the packet handlers see of the broker and of the client connection. The Broker and the
 * Connection implement these; handlers, dispatch and the connection import only this module, so
 * dependencies flow one way: broker → connection → dispatch → handlers → context.
 */

/** Where a connection is in its life: CONNECT being handled, then packets, then closed. */
export const ConnectionState = {
  connecting: 'connecting',
  connected: 'connected',
  closed: 'closed',
} as const;

export type ConnectionStateValue = (typeof ConnectionState)[keyof typeof ConnectionState];

/** The broker-wide state a handler reads or changes. */
export interface BrokerContext {
  readonly options: ResolvedBrokerOptions;
  readonly log: Logger;
  readonly trie: SubscriptionTrie;
  readonly retained: RetainedStore;
  readonly passwords: PasswordFile | null;
  readonly acl: Acl | null;
  /** Bounds the password checks running and waiting at once. */
  readonly verifications: VerifyLimit;
  /** The broker is shutting down: no new client is accepted. */
  readonly closing: boolean;
  /** Routes a message to its subscribers (and stores it when retained); returns how many got it. */
  publish(msg: Message): number;
  /** The retained store refused a new topic (a handler refused its PUBLISH for that); logged. */
  retainedRefused(topic: string): void;
  /** A CONNECT with this client id would find its session, or room for a new one (BrokerOptions.maxSessions). */
  admitsSession(clientId: string): boolean;
  /** How many sessions are held, connected or not. */
  readonly sessionCount: number;
  /** Gives an accepted client its session; returns Session Present. */
  attach(client: ClientContext, cleanStart: boolean, expiryInterval: number): boolean;
  /** A connected client's connection closed. */
  detach(client: ClientContext, publishWill: boolean): void;
  /** Output held while the gateway hands over one incoming chunk (see Broker.cork). */
  cork(): void;
  uncork(): void;
  readonly corked: boolean;
  /** `client` holds output to be flushed on the last uncork. */
  markPending(client: ClientContext): void;
}

/** One client connection, as handlers use it. */
export interface ClientContext extends Outlet {
  readonly broker: BrokerContext;
  readonly version: 3 | 4 | 5;
  readonly v5: boolean;
  state: ConnectionStateValue;
  clientId: string;
  log: Logger;
  readonly username: string | undefined;
  readonly who: AclSubject;
  session: Session | null;
  will: Will | null;
  /** Another connection took this one's session over; its close must not touch the session. */
  readonly takenOver: boolean;
  sendQuota: number;
  /** The largest packet the client accepts (Maximum Packet Size, MQTT 5) [MQTT-3.1.2-24]. */
  maxPacketOut: number;
  /** QoS 2 messages from the client that may await PUBREL at once: the Receive Maximum we announce. */
  readonly receiveMaximum: number;
  /**
   * The client accepts Reason Strings and User Properties on packets other than PUBLISH, CONNACK
   * and DISCONNECT (MQTT 5 Request Problem Information, 1 unless it said 0) [MQTT-3.1.2-29].
   */
  problemInfo: boolean;
  /** Client-to-server topic aliases (MQTT 5) [MQTT-3.3.2-10]. */
  readonly aliases: Map<number, string>;
  readonly decoder: PacketDecoder;
  send(bytes: Buffer): void;
  sendPacket(packet: Packet): void;
  /** A PUBACK-like packet; `reasonString` goes with it only where the client allows it. */
  sendAck(type: AckTypeByte, packetId: number, reasonCode: number, reasonString?: string): void;
  /** Writes what was held while corked. */
  flush(): void;
  /** Enforces the Keep Alive, in seconds (0: none) [MQTT-3.1.2-22]. */
  startKeepAlive(seconds: number): void;
  close(reason: CloseReasonName, publishWill: boolean): void;
  /** Another connection with this client id arrived [MQTT-3.1.4-3]. */
  takeOver(): void;
}
