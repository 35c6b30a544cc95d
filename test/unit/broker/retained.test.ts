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
