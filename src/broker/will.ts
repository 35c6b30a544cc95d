import type { IConnectPacket } from 'mqtt-packet';
import { encodeForwardProperties } from './codec/properties.js';
import { createMessage, type Message, type QoS } from './message.js';
import type { Session } from './session.js';
import { LongTimer } from './timers.js';

/** A client's will [MQTT-3.1.2.5], kept from CONNECT until the connection ends. */
export interface Will {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly properties: Buffer;
  /** Message Expiry Interval in seconds, -1 for none. */
  readonly expiry: number;
  /** Will Delay Interval in seconds (MQTT 5) [MQTT-3.1.3.2.2]. */
  readonly delay: number;
  readonly clientId: string;
}

export function willFromConnect(connect: IConnectPacket, clientId: string): Will | null {
  const will = connect.will;
  if (will === undefined) return null;
  const props = will.properties;
  return {
    topic: will.topic,
    payload: Buffer.from(will.payload),
    qos: (will.qos ?? 0) as QoS,
    retain: will.retain === true,
    properties: encodeForwardProperties(props),
    expiry: props?.messageExpiryInterval ?? -1,
    delay: props?.willDelayInterval ?? 0,
    clientId,
  };
}

/** The message a will becomes when it is published; its expiry starts now. */
export function willMessage(will: Will): Message {
  const msg = createMessage(will.topic, will.payload, will.qos, will.retain, will.properties, will.expiry, will.clientId);
  msg.owned = true;
  return msg;
}

/**
 * Wills waiting out their Will Delay Interval after an abnormal disconnect. Published when the
 * delay ends or the session ends, whichever comes first; dropped if the client comes back in time
 * [MQTT-3.1.3-9].
 */
export class WillDelays {
  private readonly pending = new Map<Session, { will: Will; timer: LongTimer }>();

  constructor(private readonly publish: (will: Will) => void) {}

  schedule(session: Session, will: Will, delaySeconds: number): void {
    this.cancel(session);
    const timer = new LongTimer(() => this.fire(session));
    this.pending.set(session, { will, timer });
    timer.start(delaySeconds * 1000);
  }

  /** Publishes the session's pending will now, if it has one. */
  fire(session: Session): void {
    const entry = this.pending.get(session);
    if (entry === undefined) return;
    this.cancel(session);
    this.publish(entry.will);
  }

  cancel(session: Session): void {
    const entry = this.pending.get(session);
    if (entry === undefined) return;
    entry.timer.stop();
    this.pending.delete(session);
  }

  clear(): void {
    for (const { timer } of this.pending.values()) timer.stop();
    this.pending.clear();
  }
}
