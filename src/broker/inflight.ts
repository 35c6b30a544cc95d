import type { Delivery } from './delivery.js';

/**
 * A session's outgoing QoS 1 and 2 messages that were sent and not yet completed, by packet
 * identifier. Identifiers are reused only once their flow completed [MQTT-2.2.1-3].
 */
export class Inflight {
  private readonly byId = new Map<number, Delivery>();
  private lastId = 0;

  get size(): number {
    return this.byId.size;
  }

  get(packetId: number): Delivery | undefined {
    return this.byId.get(packetId);
  }

  /** Gives `d` a free packet identifier and holds it until `complete`. */
  add(d: Delivery): void {
    let id = this.lastId;
    do {
      id = id === 0xffff ? 1 : id + 1;
    } while (this.byId.has(id));
    this.lastId = id;
    d.packetId = id;
    this.byId.set(id, d);
  }

  complete(packetId: number): Delivery | undefined {
    const d = this.byId.get(packetId);
    if (d !== undefined) this.byId.delete(packetId);
    return d;
  }

  /** In the order they were sent, which is the order they must be resent in [MQTT-4.6.0-1]. */
  values(): IterableIterator<Delivery> {
    return this.byId.values();
  }

  clear(): void {
    this.byId.clear();
  }
}
