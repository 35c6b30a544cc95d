import type { Delivery } from './delivery.js';

export const EnqueueResult = {
  queued: 'queued',
  /** The queue was full: its oldest QoS 0 message made room. */
  replacedQos0: 'replacedQos0',
  /** The queue was full of QoS 1/2 messages: the new one was dropped. */
  dropped: 'dropped',
} as const;

export type EnqueueResultValue = (typeof EnqueueResult)[keyof typeof EnqueueResult];

/**
 * A session's messages waiting to be sent, first in first out, never more than `limit`. When full,
 * the oldest QoS 0 message gives way first; if there is none, the new message is dropped.
 */
export class DeliveryQueue {
  private items: (Delivery | undefined)[] = [];
  private head = 0;

  constructor(private readonly limit: number) {}

  get length(): number {
    return this.items.length - this.head;
  }

  peek(): Delivery | undefined {
    return this.items[this.head];
  }

  shift(): Delivery | undefined {
    if (this.head >= this.items.length) return undefined;
    const d = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return d;
  }

  push(d: Delivery): EnqueueResultValue {
    if (this.length < this.limit) {
      this.items.push(d);
      return EnqueueResult.queued;
    }
    for (let i = this.head; i < this.items.length; i++) {
      if ((this.items[i] as Delivery).qos === 0) {
        this.items.splice(i, 1);
        this.items.push(d);
        return EnqueueResult.replacedQos0;
      }
    }
    return EnqueueResult.dropped;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}
