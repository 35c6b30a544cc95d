import { own, type Message } from './message.js';

class RetainNode {
  readonly children = new Map<string, RetainNode>();
  message: Message | null = null;

  constructor(
    readonly parent: RetainNode | null,
    readonly level: string,
  ) {}
}

/**
 * Retained messages, one per topic [MQTT-3.3.1-5], in a tree of topic levels so that a subscribe
 * walks only the branches its filter can match. At most `limit` of them (0: no limit).
 */
export class RetainedStore {
  private readonly root = new RetainNode(null, '');
  private count = 0;

  constructor(readonly limit = 0) {}

  get size(): number {
    return this.count;
  }

  /**
   * Storing a message for `topic` with `payload` would go past the limit: the store is full and
   * the topic holds no message yet. Replacing one, or deleting one (an empty payload), never does.
   */
  refuses(topic: string, payload: Buffer): boolean {
    if (this.limit === 0 || this.count < this.limit || payload.length === 0) return false;
    const node = this.find(topic);
    return node === undefined || node.message === null;
  }

  /**
   * Stores `msg` as the topic's retained message, replacing the one before; an empty payload
   * removes it and is not stored [MQTT-3.3.1-10] [MQTT-3.3.1-11]. Returns false, storing nothing,
   * when the store is full and the topic holds no message yet.
   */
  set(msg: Message): boolean {
    if (msg.payload.length === 0) {
      this.delete(msg.topic);
      return true;
    }
    if (this.refuses(msg.topic, msg.payload)) return false;
    own(msg);
    let node = this.root;
    for (const level of msg.topic.split('/')) {
      let child = node.children.get(level);
      if (child === undefined) {
        child = new RetainNode(node, level);
        node.children.set(level, child);
      }
      node = child;
    }
    if (node.message === null) this.count++;
    node.message = msg;
    return true;
  }

  private find(topic: string): RetainNode | undefined {
    let node: RetainNode | undefined = this.root;
    for (const level of topic.split('/')) {
      node = node.children.get(level);
      if (node === undefined) return undefined;
    }
    return node;
  }

  private delete(topic: string): void {
    const node = this.find(topic);
    if (node === undefined || node.message === null) return;
    node.message = null;
    this.count--;
    this.prune(node);
  }

  /** The retained messages whose topics match `filter`, expired ones dropped [MQTT-3.3.2-5]. */
  match(filter: string, now = Date.now()): Message[] {
    const out: Message[] = [];
    this.walk(this.root, filter.split('/'), 0, out, now);
    return out;
  }

  private walk(node: RetainNode, levels: readonly string[], i: number, out: Message[], now: number): void {
    if (i === levels.length) {
      this.take(node, out, now);
      return;
    }
    const level = levels[i] as string;
    if (level === '#') {
      // `a/#` matches `a` itself [MQTT-4.7.1-2]; `#` and `+` at the first level skip `$` topics [MQTT-4.7.2-1].
      if (i > 0) this.take(node, out, now);
      this.all(node, out, now, i === 0);
      return;
    }
    if (level === '+') {
      for (const child of node.children.values()) {
        if (i === 0 && child.level.startsWith('$')) continue;
        this.walk(child, levels, i + 1, out, now);
      }
      return;
    }
    const child = node.children.get(level);
    if (child !== undefined) this.walk(child, levels, i + 1, out, now);
  }

  private all(node: RetainNode, out: Message[], now: number, skipDollar: boolean): void {
    for (const child of node.children.values()) {
      if (skipDollar && child.level.startsWith('$')) continue;
      this.take(child, out, now);
      this.all(child, out, now, false);
    }
  }

  private take(node: RetainNode, out: Message[], now: number): void {
    const msg = node.message;
    if (msg === null) return;
    if (msg.expiresAt !== 0 && msg.expiresAt <= now) {
      node.message = null;
      this.count--;
      return;
    }
    out.push(msg);
  }

  private prune(node: RetainNode): void {
    let current: RetainNode | null = node;
    while (current !== null && current.parent !== null && current.message === null && current.children.size === 0) {
      current.parent.children.delete(current.level);
      current = current.parent;
    }
  }
}
