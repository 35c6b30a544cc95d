import type { Logger } from 'pino';
import type { ClientLink, UpstreamSession } from '../upstream/upstream.js';
import { Acl } from './auth/acl.js';
import { PasswordFile } from './auth/password-file.js';
import { VerifyLimit } from './auth/verify-limit.js';
import { Connection } from './connection.js';
import type { BrokerContext, ClientContext } from './context.js';
import { handleConnect } from './handlers/connect.js';
import type { Message } from './message.js';
import { resolveBrokerOptions, type BrokerOptions, type ResolvedBrokerOptions } from './options.js';
import { RetainedStore } from './retained.js';
import { Session } from './session.js';
import { SessionStore } from './session-store.js';
import type { Subscriber, Subscription } from './subscription.js';
import { SubscriptionTrie, type SharedGroup } from './topic-trie.js';
import { willMessage, WillDelays, type Will } from './will.js';

export type { BrokerOptions };

/** Once the store has been full, the next full store is reported again when it fell below this share of the limit. */
const RETAINED_WARN_REARM = 0.9;

/**
 * The embedded broker: sessions by client id, subscriptions in a trie, retained messages, wills.
 * Connections come in through `open` (one per client, CONNECT already decoded by the gateway).
 */
export class Broker implements BrokerContext {
  readonly options: ResolvedBrokerOptions;
  readonly trie = new SubscriptionTrie();
  readonly retained: RetainedStore;
  readonly sessions: SessionStore;
  readonly wills = new WillDelays((will) => this.publishWill(will));
  readonly connections = new Set<ClientContext>();
  readonly passwords: PasswordFile | null = null;
  readonly acl: Acl | null = null;
  readonly verifications: VerifyLimit;
  readonly log: Logger;
  /** Why the broker cannot serve (its auth files did not load), or null. */
  closing = false;
  private epoch = 0;
  private corkDepth = 0;
  private flushScheduled = false;
  private pendingConnections: ClientContext[] = [];
  private retainedFullWarned = false;

  constructor(options: BrokerOptions) {
    this.options = resolveBrokerOptions(options);
    this.log = options.log;
    this.retained = new RetainedStore(this.options.maxRetainedMessages);
    this.sessions = new SessionStore(this.options.maxSessions, (session) => this.onSessionExpired(session));
    this.verifications = new VerifyLimit({
      onSaturated: ({ concurrency, queue }) =>
        this.log.warn({ concurrency, queue }, 'password checks saturated: CONNECTs with credentials are refused (server busy) until the queue drains'),
    });
    // A file that cannot be read or parsed stops the start (GatewayError naming the file and line).
    if (options.authFile !== null) this.passwords = PasswordFile.load(options.authFile);
    if (options.aclFile !== null) this.acl = Acl.load(options.aclFile);
  }

  /** A client whose CONNECT the gateway decoded: resolves with its connection, closed already if refused. */
  async open(link: ClientLink): Promise<UpstreamSession> {
    const conn = new Connection(this, link);
    await handleConnect(conn, link.connect, link.connectBytes);
    return conn;
  }

  /**
   * Routes a message to every matching subscription [MQTT-3.3.4]: one delivery per client with the
   * highest QoS of its overlapping subscriptions and all their identifiers [MQTT-3.3.4-3] [MQTT-3.3.4-5],
   * plus one member of each matching shared group. Returns how many deliveries were made.
   */
  publish(msg: Message): number {
    if (msg.retain) this.retain(msg);
    const subs: Subscription[] = [];
    const groups: SharedGroup[] = [];
    this.trie.match(msg.topic, subs, groups);
    if (subs.length === 0 && groups.length === 0) return 0;

    msg.cache = [];
    const epoch = ++this.epoch;
    const targets: Subscriber[] = [];
    for (const sub of subs) {
      const s = sub.session;
      if (sub.noLocal && s.clientId === msg.originId) continue;
      const qos = sub.qos < msg.qos ? sub.qos : msg.qos;
      if (s.routeEpoch !== epoch) {
        s.routeEpoch = epoch;
        s.routeQos = qos;
        s.routeRetain = sub.retainAsPublished;
        s.routeSubIds = sub.id !== 0 ? [sub.id] : null;
        targets.push(s);
      } else {
        if (qos > s.routeQos) s.routeQos = qos;
        if (sub.retainAsPublished) s.routeRetain = true;
        if (sub.id !== 0) (s.routeSubIds ??= []).push(sub.id);
      }
    }
    // Without Retain As Published the flag is cleared on live deliveries [MQTT-3.3.1-12] [MQTT-3.3.1-9].
    for (const s of targets) s.deliver(msg, s.routeQos, msg.retain && s.routeRetain, s.routeSubIds);
    for (const group of groups) {
      const sub = group.pick();
      if (sub === undefined) continue;
      sub.session.deliver(msg, sub.qos < msg.qos ? sub.qos : msg.qos, msg.retain && sub.retainAsPublished, sub.id !== 0 ? [sub.id] : null);
    }
    msg.cache = null;
    return targets.length + groups.length;
  }

  admitsSession(clientId: string): boolean {
    return this.sessions.admits(clientId);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Gives an accepted connection its session: takes over a connected one [MQTT-3.1.4-3], resumes
   * a stored one unless Clean Start [MQTT-3.1.2-4] [MQTT-3.1.2-5], or starts a new one. Returns
   * Session Present [MQTT-3.2.2-2] [MQTT-3.2.2-3].
   */
  attach(conn: ClientContext, cleanStart: boolean, expiryInterval: number): boolean {
    let session = this.sessions.get(conn.clientId);
    if (session?.connection) {
      // A session's outlet is always the connection that attached to it.
      const old = session.connection as ClientContext;
      const oldWill = old.will;
      old.takeOver();
      session.connection = null;
      // As Mosquitto: the old will goes out when its session ends with the takeover.
      if (oldWill !== null && (session.expiryInterval === 0 || cleanStart)) this.publishWill(oldWill);
    }
    let present = false;
    if (session !== undefined) {
      this.sessions.cancelExpiry(session);
      if (cleanStart || session.expiryInterval === 0) {
        // The old session ends now, and a will waiting for its delay with it.
        this.wills.fire(session);
        this.endSession(session);
        session = undefined;
      } else {
        // Back in time: the delayed will is not sent [MQTT-3.1.3-9].
        this.wills.cancel(session);
        present = true;
      }
    }
    if (session === undefined) {
      session = new Session(conn.clientId, this.options.maxQueuedMessages, conn.log);
      this.sessions.set(session);
    }
    session.expiryInterval = expiryInterval;
    session.connection = conn;
    conn.session = session;
    this.connections.add(conn);
    return present;
  }

  /** A connection closed: end its session or keep it for its expiry interval; see to its will. */
  detach(conn: ClientContext, publishWill: boolean): void {
    this.connections.delete(conn);
    const session = conn.session;
    if (conn.takenOver || session === null || session.connection !== conn) return;
    session.connection = null;
    const will = publishWill ? conn.will : null;
    conn.will = null;
    if (this.closing) return;
    if (session.expiryInterval === 0) {
      this.endSession(session);
      if (will !== null) this.publishWill(will);
      return;
    }
    this.sessions.scheduleExpiry(session);
    if (will === null) return;
    // Published after the Will Delay Interval, or when the session ends if that is sooner [MQTT-3.1.3-9].
    const delay = Math.min(will.delay, session.expiryInterval);
    if (delay > 0) this.wills.schedule(session, will, delay);
    else this.publishWill(will);
  }

  /** Stores a retained message, unless the store is full and the topic has none yet. */
  private retain(msg: Message): void {
    if (this.retained.set(msg)) {
      if (this.retainedFullWarned && this.retained.size < this.options.maxRetainedMessages * RETAINED_WARN_REARM) this.retainedFullWarned = false;
      return;
    }
    this.retainedRefused(msg.topic);
  }

  /** The first refusal in a while is a warning, so that the operator learns of the full store; the rest are debug. */
  retainedRefused(topic: string): void {
    const limit = this.options.maxRetainedMessages;
    if (this.retainedFullWarned) {
      this.log.debug({ topic, limit }, 'retained message not stored: the store is full');
      return;
    }
    this.retainedFullWarned = true;
    this.log.warn({ topic, limit }, 'retained message limit reached: new retained topics are not stored');
  }

  publishWill(will: Will): void {
    this.log.debug({ clientId: will.clientId, topic: will.topic }, 'publishing will');
    this.publish(willMessage(will));
  }

  private onSessionExpired(session: Session): void {
    this.log.debug({ clientId: session.clientId }, 'session expired');
    this.wills.fire(session);
    this.endSession(session);
  }

  private endSession(session: Session): void {
    for (const sub of session.subscriptions.values()) this.trie.remove(sub);
    session.clear();
    this.wills.cancel(session);
    this.sessions.delete(session);
  }

  /**
   * While corked (the gateway is handing over the packets of one incoming chunk), what the broker
   * sends to any client is held per connection. The writes happen in a microtask after the last
   * uncork, so that the packets of every WebSocket frame read from one TCP chunk go out together.
   */
  cork(): void {
    this.corkDepth++;
  }

  uncork(): void {
    if (--this.corkDepth > 0) return;
    this.corkDepth = 0;
    if (this.pendingConnections.length > 0 && !this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushPending);
    }
  }

  get corked(): boolean {
    return this.corkDepth > 0;
  }

  private readonly flushPending = (): void => {
    this.flushScheduled = false;
    const pending = this.pendingConnections;
    this.pendingConnections = [];
    for (const conn of pending) conn.flush();
  };

  markPending(conn: ClientContext): void {
    this.pendingConnections.push(conn);
  }

  ready(): boolean {
    return !this.closing;
  }

  /** Server shutdown: MQTT 5 clients are told (DISCONNECT 0x8B), every timer stops. */
  close(): void {
    this.closing = true;
    for (const conn of [...this.connections]) conn.close('serverShutdown', false);
    this.wills.clear();
    this.sessions.clear();
  }
}
