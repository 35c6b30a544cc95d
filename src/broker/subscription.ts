import type { Message, QoS } from './message.js';

/** Retain Handling subscription option [MQTT-3.8.3.1]. */
export const RetainHandling = {
  /** Send retained messages at the time of the subscribe. */
  always: 0,
  /** Only if the subscription did not exist before. */
  ifNew: 1,
  never: 2,
} as const;

export type RetainHandlingValue = (typeof RetainHandling)[keyof typeof RetainHandling];

/**
 * The session a subscription belongs to, as routing sees it (the Session implements it). Declared
 * here so that subscriptions need nothing of the session module, which depends on this one.
 */
export interface Subscriber {
  readonly clientId: string;
  /** Its client is connected: shared subscriptions prefer such members. */
  readonly online: boolean;
  deliver(msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | null): void;
  // Scratch state for merging overlapping subscriptions while one message is routed (see Broker.publish).
  routeEpoch: number;
  routeQos: QoS;
  routeRetain: boolean;
  routeSubIds: number[] | null;
}

/** One entry of a session's subscriptions; the trie points at it. */
export interface Subscription {
  readonly session: Subscriber;
  /** The filter as the client wrote it, `$share/...` included: the key in the session. */
  readonly key: string;
  /** The filter matched against topic names. */
  readonly filter: string;
  /** Share name of a shared subscription [MQTT-4.8.2], or null. */
  readonly group: string | null;
  readonly qos: QoS;
  readonly noLocal: boolean;
  readonly retainAsPublished: boolean;
  readonly retainHandling: RetainHandlingValue;
  /** Subscription Identifier [MQTT-3.8.2.1.2], or 0 for none. */
  readonly id: number;
}
