import type { Logger } from 'pino';
import { DeliveryState, type Delivery } from './delivery.js';
import { Inflight } from './inflight.js';
import { own, type Message, type QoS } from './message.js';
import { DeliveryQueue, EnqueueResult } from './queue.js';
import type { Subscriber, Subscription } from './subscription.js';

/** Session Expiry Interval 0xFFFFFFFF: the session never expires (MQTT 5 section 3.1.2.11.2). */
export const SESSION_NEVER_EXPIRES = 0xffffffff;

/** What a session needs from the connection its client is on, to send it messages. */
export interface Outlet {
  /** The client's buffer is full: send nothing until it drains. */
  readonly blocked: boolean;
  /** How many QoS 1/2 messages may be in flight to this client. */
  readonly sendQuota: number;
  /** Sends one PUBLISH; false when it was not sent (expired, or larger than the client accepts). */
  sendPublish(msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | null, packetId: number, dup: boolean): boolean;
  sendPubrel(packetId: number): void;
}

/**
 * The state the server keeps for one client id [MQTT-4.1]: its subscriptions, messages waiting for
 * it, messages in flight both ways. It outlives connections when its expiry interval says so.
 */
export class Session implements Subscriber {
  readonly subscriptions = new Map<string, Subscription>();
  readonly inflight = new Inflight();
  /** Packet ids of QoS 2 messages received, PUBREC sent, PUBREL not yet received [MQTT-4.3.3]. */
  readonly incomingQos2 = new Set<number>();
  readonly queue: DeliveryQueue;
  connection: Outlet | null = null;
  /** Seconds the session outlives its connection; SESSION_NEVER_EXPIRES for ever. */
  expiryInterval = 0;

  // Scratch state for merging overlapping subscriptions while one message is routed (see Broker.publish).
  routeEpoch = 0;
  routeQos: QoS = 0;
  routeRetain = false;
  routeSubIds: number[] | null = null;

  private overflowLogged = false;

  get online(): boolean {
    return this.connection !== null;
  }

  constructor(
    readonly clientId: string,
    maxQueued: number,
    private readonly log: Logger,
  ) {
    this.queue = new DeliveryQueue(maxQueued);
  }

  /**
   * Hands a message to this session: sent now when the client is online, not blocked, nothing
   * waits before it and (for QoS 1/2) an in-flight slot is free; queued otherwise. QoS 0 messages
   * are not kept for offline clients (as Mosquitto, by default).
   */
  deliver(msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | null): void {
    const out = this.connection;
    if (qos === 0) {
      if (out === null) return;
      if (!out.blocked && this.queue.length === 0) {
        out.sendPublish(msg, 0, retain, subIds, 0, false);
        return;
      }
    }
    const d: Delivery = { msg, qos, retain, subIds, packetId: 0, state: DeliveryState.queued };
    if (out !== null && qos > 0 && !out.blocked && this.queue.length === 0 && this.inflight.size < out.sendQuota) {
      this.send(out, d);
      return;
    }
    own(msg);
    const result = this.queue.push(d);
    if (result !== EnqueueResult.queued && !this.overflowLogged) {
      this.overflowLogged = true;
      this.log.warn({ queued: this.queue.length, result }, 'session queue full, dropping messages');
    }
  }

  /** Sends what the queue holds, in order, as far as the in-flight window and the client's buffer allow. */
  pump(): void {
    const out = this.connection;
    if (out === null) return;
    while (!out.blocked) {
      const d = this.queue.peek();
      if (d === undefined) break;
      if (d.qos > 0 && this.inflight.size >= out.sendQuota) break;
      this.queue.shift();
      if (d.qos === 0) out.sendPublish(d.msg, 0, d.retain, d.subIds, 0, false);
      else this.send(out, d);
    }
    if (this.queue.length === 0) this.overflowLogged = false;
  }

  /**
   * A client resumed this session: unacknowledged PUBLISH packets are sent again with DUP set,
   * and PUBREL again for those that got a PUBREC [MQTT-4.4.0-1] [MQTT-3.3.1-1]; then the queue.
   */
  resume(): void {
    const out = this.connection;
    if (out === null) return;
    for (const d of this.inflight.values()) {
      if (d.state === DeliveryState.awaitingComp) out.sendPubrel(d.packetId);
      else if (!out.sendPublish(d.msg, d.qos, d.retain, d.subIds, d.packetId, true)) this.inflight.complete(d.packetId);
    }
    this.pump();
  }

  /** Forgets everything but the client id: a clean start, or the end of the session. */
  clear(): void {
    this.subscriptions.clear();
    this.inflight.clear();
    this.incomingQos2.clear();
    this.queue.clear();
  }

  private send(out: Outlet, d: Delivery): void {
    own(d.msg);
    this.inflight.add(d);
    d.state = DeliveryState.awaitingAck;
    // A message the client cannot take (too large, expired) counts as delivered [MQTT-3.1.2-25].
    if (!out.sendPublish(d.msg, d.qos, d.retain, d.subIds, d.packetId, false)) this.inflight.complete(d.packetId);
  }
}
