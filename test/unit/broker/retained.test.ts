import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMessage } from '../../../src/broker/message.js';
import { RetainedStore } from '../../../src/broker/retained.js';

const msg = (topic: string, payload = 'x', expiry = -1) => createMessage(topic, Buffer.from(payload), 0, true, undefined, expiry);
const topics = (store: RetainedStore, filter: string) => store.match(filter).map((m) => m.topic).sort();

test('[MQTT-3.3.1-5] one retained message per topic, replaced by the next', () => {
  const store = new RetainedStore();
  store.set(msg('a/b', '1'));
  store.set(msg('a/b', '2'));
  assert.equal(store.size, 1);
  assert.equal(store.match('a/b')[0]?.payload.toString(), '2');
});

test('[MQTT-3.3.1-10] [MQTT-3.3.1-11] an empty payload deletes the retained message', () => {
  const store = new RetainedStore();
  store.set(msg('a/b'));
  store.set(msg('a/b', ''));
  assert.equal(store.size, 0);
  assert.deepEqual(topics(store, '#'), []);
});

test('[MQTT-4.7.1-2] [MQTT-4.7.2-1] filters match retained topics, $ topics not by first-level wildcards', () => {
  const store = new RetainedStore();
  for (const t of ['a', 'a/b', 'a/b/c', 'x/b', '$SYS/up', '/lead']) store.set(msg(t));
  assert.deepEqual(topics(store, '#'), ['/lead', 'a', 'a/b', 'a/b/c', 'x/b']);
  assert.deepEqual(topics(store, 'a/#'), ['a', 'a/b', 'a/b/c']);
  assert.deepEqual(topics(store, '+/b'), ['a/b', 'x/b']);
  assert.deepEqual(topics(store, '+'), ['a']);
  assert.deepEqual(topics(store, '$SYS/#'), ['$SYS/up']);
  assert.deepEqual(topics(store, '+/lead'), ['/lead']);
});

test('[MQTT-3.3.2-5] expired retained messages are not delivered', () => {
  const store = new RetainedStore();
  store.set(msg('a', 'old', 0));
  assert.deepEqual(store.match('a', Date.now() + 1), []);
  assert.equal(store.size, 0);
});

test('a store at its limit refuses a new topic; replacing and deleting still work, and a deletion makes room', () => {
  const store = new RetainedStore(2);
  assert.equal(store.set(msg('a')), true);
  assert.equal(store.set(msg('b')), true);
  assert.equal(store.refuses('c', Buffer.from('x')), true);
  assert.equal(store.set(msg('c')), false);
  assert.equal(store.refuses('a', Buffer.from('x')), false);
  assert.equal(store.set(msg('a', 'replaced')), true);
  assert.equal(store.refuses('c', Buffer.alloc(0)), false);
  assert.equal(store.set(msg('b', '')), true);
  assert.equal(store.set(msg('c')), true);
  assert.equal(store.size, 2);
  assert.deepEqual(topics(store, '#'), ['a', 'c']);
  assert.equal(store.match('a')[0]?.payload.toString(), 'replaced');
});

test('limit 0 stores without limit', () => {
  const store = new RetainedStore(0);
  for (let i = 0; i < 1000; i++) assert.equal(store.set(msg(`t/${i}`)), true);
  assert.equal(store.size, 1000);
});
