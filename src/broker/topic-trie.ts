import type { Subscriber, Subscription } from './subscription.js';

/** The subscribers of one shared subscription `$share/{group}/{filter}`: one of them gets each message. */
export class SharedGroup {
  readonly members: Subscription[] = [];
  private next = 0;

  /** Round-robin over the members, skipping those whose client is offline while one is online. */
  pick(): Subscription | undefined {
    const n = this.members.length;
    for (let i = 0; i < n; i++) {
      const sub = this.members[(this.next + i) % n] as Subscription;
      if (sub.session.online) {
        this.next = (this.next + i + 1) % n;
        return sub;
      }
    }
    const sub = this.members[this.next % n];
    this.next = (this.next + 1) % Math.max(n, 1);
    return sub;
  }
}

class TrieNode {
  readonly children = new Map<string, TrieNode>();
  readonly subs = new Map<Subscriber, Subscription>();
  shared: Map<string, SharedGroup> | null = null;

  constructor(
    readonly parent: TrieNode | null,
    readonly level: string,
  ) {}

  get empty(): boolean {
    return this.children.size === 0 && this.subs.size === 0 && (this.shared === null || this.shared.size === 0);
  }
}

/**
 * Subscriptions indexed by filter level, so a publish costs one walk over its topic's levels, not a
 * test of every filter. `+` and `#` are children like any level; matching follows [MQTT-4.7].
 */
export class SubscriptionTrie {
  private readonly root = new TrieNode(null, '');
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds `sub`, replacing the session's earlier subscription to the same filter [MQTT-3.8.4-3]. */
  add(sub: Subscription): void {
    let node = this.root;
    for (const level of sub.filter.split('/')) {
      let child = node.children.get(level);
      if (child === undefined) {
        child = new TrieNode(node, level);
        node.children.set(level, child);
      }
      node = child;
    }
    if (sub.group === null) {
      if (!node.subs.has(sub.session)) this.count++;
      node.subs.set(sub.session, sub);
      return;
    }
    node.shared ??= new Map();
    let group = node.shared.get(sub.group);
    if (group === undefined) {
      group = new SharedGroup();
      node.shared.set(sub.group, group);
    }
    const at = group.members.findIndex((m) => m.session === sub.session);
    if (at >= 0) group.members[at] = sub;
    else {
      group.members.push(sub);
      this.count++;
    }
  }

  remove(sub: Subscription): void {
    let node: TrieNode | undefined = this.root;
    for (const level of sub.filter.split('/')) {
      node = node.children.get(level);
      if (node === undefined) return;
    }
    if (sub.group === null) {
      if (node.subs.get(sub.session) === sub && node.subs.delete(sub.session)) this.count--;
    } else {
      const group = node.shared?.get(sub.group);
      const at = group?.members.indexOf(sub) ?? -1;
      if (group !== undefined && at >= 0) {
        group.members.splice(at, 1);
        this.count--;
        if (group.members.length === 0) node.shared?.delete(sub.group);
      }
    }
    this.prune(node);
  }

  /**
   * Collects the subscriptions matching topic name `topic`: plain ones into `out`, shared groups
   * into `groups`. Wildcards at the first level never match a topic starting with `$` [MQTT-4.7.2-1].
   */
  match(topic: string, out: Subscription[], groups: SharedGroup[]): void {
    const levels = topic.split('/');
    this.walk(this.root, levels, 0, topic.charCodeAt(0) === 0x24, out, groups);
  }

  private walk(
    node: TrieNode,
    levels: readonly string[],
    i: number,
    dollar: boolean,
    out: Subscription[],
    groups: SharedGroup[],
  ): void {
    if (i === levels.length) {
      collect(node, out, groups);
      // `sport/#` also matches `sport` [MQTT-4.7.1-2].
      const hash = node.children.get('#');
      if (hash !== undefined) collect(hash, out, groups);
      return;
    }
    if (!(dollar && i === 0)) {
      const hash = node.children.get('#');
      if (hash !== undefined) collect(hash, out, groups);
      const plus = node.children.get('+');
      if (plus !== undefined) this.walk(plus, levels, i + 1, dollar, out, groups);
    }
    const exact = node.children.get(levels[i] as string);
    if (exact !== undefined) this.walk(exact, levels, i + 1, dollar, out, groups);
  }

  private prune(node: TrieNode): void {
    let current: TrieNode | null = node;
    while (current !== null && current.parent !== null && current.empty) {
      current.parent.children.delete(current.level);
      current = current.parent;
    }
  }
}

function collect(node: TrieNode, out: Subscription[], groups: SharedGroup[]): void {
  if (node.subs.size > 0) for (const sub of node.subs.values()) out.push(sub);
  if (node.shared !== null) for (const group of node.shared.values()) groups.push(group);
}
