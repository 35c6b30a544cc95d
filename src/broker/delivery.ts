import type { Message, QoS } from './message.js';

/** Where one outgoing message is in its QoS flow [MQTT-4.3]. */
export const DeliveryState = {
  /** Waiting in the session queue for an in-flight slot or for the client. */
  queued: 0,
  /** Sent; waiting for PUBACK (QoS 1) or PUBREC (QoS 2). */
  awaitingAck: 1,
  /** PUBREL sent; waiting for PUBCOMP. */
  awaitingComp: 2,
} as const;

export type DeliveryStateValue = (typeof DeliveryState)[keyof typeof DeliveryState];

/** One message on its way to one session. */
export interface Delivery {
  readonly msg: Message;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly subIds: readonly number[] | null;
  packetId: number;
  state: DeliveryStateValue;
}
