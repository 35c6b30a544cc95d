import mqttPacket, { type IPublishPacket, type ISubscribePacket } from 'mqtt-packet';
import type { Logger } from '../log.js';
import { PacketDecoder } from '../mqtt/codec.js';
import { PacketType, packetType } from '../mqtt/framer.js';
import { FORWARD, type PacketInspector, type Verdict } from './admission.js';
import { filterCovers, topicMatches, unshared } from '../mqtt/topics.js';

/** Topic filters a client may publish to and subscribe to; null: no restriction on that side. */
export interface TopicRestrictions {
  readonly publish: readonly string[] | null;
  readonly subscribe: readonly string[] | null;
}

/** MQTT 5 reason code 0x87 "Not authorized" [MQTT-3.4.2.1], [MQTT-3.9.3]. */
const NOT_AUTHORIZED = 0x87;
/** MQTT 3.1.1 SUBACK "Failure" [MQTT-3.9.3]. */
const SUBACK_FAILURE = 0x80;

/**
 * Holds a client to the topics its token allows, at the edge, so any broker behind gets only
 * what is allowed. Only PUBLISH and SUBSCRIBE are decoded; everything else passes untouched.
 * A refused SUBSCRIBE is answered by the gateway with a SUBACK failing every filter in it (a
 * partly allowed SUBSCRIBE is refused whole, which keeps the backend's SUBACKs unchanged).
 * A refused PUBLISH: MQTT 5 gets PUBACK/PUBREC 0x87 (QoS 1/2) or nothing (QoS 0); MQTT 3.1.1 has no
 * way to say it, so the client is disconnected [MQTT-3.3.5-2].
 */
export class TopicPolicy implements PacketInspector {
  private readonly decoder = new PacketDecoder();
  /** Client-to-server topic aliases [MQTT-3.3.2.3.4]: an aliased PUBLISH may carry no topic at all. */
  private readonly aliases = new Map<number, string>();
  private readonly v5: boolean;

  constructor(
    private readonly restrictions: TopicRestrictions,
    connectBytes: Buffer,
    private readonly log: Logger,
  ) {
    const connect = this.decoder.decode(connectBytes) as { protocolVersion?: number };
    this.v5 = connect.protocolVersion === 5;
  }

  inspect(packet: Buffer): Verdict {
    const type = packetType(packet);
    if (type === PacketType.publish && this.restrictions.publish) return this.publish(packet, this.restrictions.publish);
    if (type === PacketType.subscribe && this.restrictions.subscribe) return this.subscribe(packet, this.restrictions.subscribe);
    return FORWARD;
  }

  private publish(packet: Buffer, allowed: readonly string[]): Verdict {
    const publish = this.decoder.decode(packet) as IPublishPacket;
    let topic = publish.topic;
    const alias = publish.properties?.topicAlias;
    if (alias !== undefined && topic === '') topic = this.aliases.get(alias) ?? '';
    if (allowed.some((filter) => topicMatches(filter, topic))) {
      // Only aliases the broker also sees are kept: it bounds them by its Topic Alias Maximum.
      if (alias !== undefined && publish.topic !== '') this.aliases.set(alias, topic);
      return FORWARD;
    }
    this.log.info({ topic, qos: publish.qos, reason: 'topic not allowed by the token' }, 'publish refused');
    if (!this.v5) return { action: 'close', reason: 'notAuthorized', detail: `publish to ${topic} not allowed` };
    if (publish.qos === 0) return { action: 'answer', reply: null };
    const cmd = publish.qos === 1 ? 'puback' : 'pubrec';
    const reply = mqttPacket.generate({ cmd, messageId: publish.messageId, reasonCode: NOT_AUTHORIZED }, { protocolVersion: 5 });
    return { action: 'answer', reply };
  }

  private subscribe(packet: Buffer, allowed: readonly string[]): Verdict {
    const subscribe = this.decoder.decode(packet) as ISubscribePacket;
    const refused = subscribe.subscriptions
      .map(({ topic }) => topic)
      .filter((filter) => !allowed.some((a) => filterCovers(a, unshared(filter))));
    if (refused.length === 0) return FORWARD;
    this.log.info({ filters: refused, reason: 'filter not allowed by the token' }, 'subscribe refused');
    const failure = this.v5 ? NOT_AUTHORIZED : SUBACK_FAILURE;
    const reply = mqttPacket.generate(
      { cmd: 'suback', messageId: subscribe.messageId, granted: subscribe.subscriptions.map(() => failure) },
      { protocolVersion: this.v5 ? 5 : 4 },
    );
    return { action: 'answer', reply };
  }
}
