import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Subscriber, Subscription } from '../../../src/broker/subscription.js';
import { SubscriptionTrie, type SharedGroup } from '../../../src/broker/topic-trie.js';
import { parseFilter } from '../../../src/mqtt/topics.js';

function sub(client: string, key: string, online = true): Subscription {
  const parsed = parseFilter(key);
  assert.ok(parsed);
  const session = { clientId: client, online } as unknown as Subscriber;
  return { session, key, filter: parsed.filter, group: parsed.group, qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0, id: 0 };
}

function matches(trie: SubscriptionTrie, topic: string): string[] {
  const out: Subscription[] = [];
  const groups: SharedGroup[] = [];
  trie.match(topic, out, groups);
  return out.map((s) => s.key).sort();
}

test('[MQTT-4.7.1-2] [MQTT-4.7.1-3] + matches one level, # any number including none', () => {
  const trie = new SubscriptionTrie();
  for (const key of ['sport/tennis/player1', 'sport/tennis/+', 'sport/#', '#', '+/+', '+', '/+', 'sport/+/player1/#']) trie.add(sub(key, key));
  assert.deepEqual(matches(trie, 'sport/tennis/player1'), ['#', 'sport/#', 'sport/+/player1/#', 'sport/tennis/+', 'sport/tennis/player1']);
  assert.deepEqual(matches(trie, 'sport'), ['#', '+', 'sport/#']);
  assert.deepEqual(matches(trie, '/finance'), ['#', '+/+', '/+']);
  assert.deepEqual(matches(trie, 'sport/'), ['#', '+/+', 'sport/#']);
});

test('[MQTT-4.7.2-1] wildcards at the first level do not match topics starting with $', () => {
  const trie = new SubscriptionTrie();
  for (const key of ['#', '+/monitor/Clients', '$SYS/#', '$SYS/monitor/+']) trie.add(sub(key, key));
  assert.deepEqual(matches(trie, '$SYS/monitor/Clients'), ['$SYS/#', '$SYS/monitor/+']);
  assert.deepEqual(matches(trie, 'x/monitor/Clients'), ['#', '+/monitor/Clients']);
});

test('[MQTT-3.8.4-3] a second subscription to the same filter replaces the first; remove prunes', () => {
  const trie = new SubscriptionTrie();
  const a = sub('c', 'a/b');
  trie.add(a);
  const again = { ...a, qos: 1 as const };
  trie.add(again);
  assert.equal(trie.size, 1);
  const out: Subscription[] = [];
  trie.match('a/b', out, []);
  assert.equal(out[0]?.qos, 1);
  trie.remove(a); // stale object: not the current one
  assert.equal(trie.size, 1);
  trie.remove(again);
  assert.equal(trie.size, 0);
  assert.deepEqual(matches(trie, 'a/b'), []);
});

test('[MQTT-4.8.2] shared groups pick one member round-robin, online members first', () => {
  const trie = new SubscriptionTrie();
  const members = [sub('a', '$share/g/t'), sub('b', '$share/g/t'), sub('c', '$share/g/t', false)];
  for (const m of members) trie.add(m);
  const picks: string[] = [];
  for (let i = 0; i < 4; i++) {
    const groups: SharedGroup[] = [];
    trie.match('t', [], groups);
    assert.equal(groups.length, 1);
    picks.push(groups[0]?.pick()?.session.clientId ?? '');
  }
  assert.deepEqual(picks, ['a', 'b', 'a', 'b']);
});
