import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isValidTopicFilter, isValidTopicName, parseFilter } from '../../../src/mqtt/topics.js';

test('[MQTT-3.3.2-2] topic names hold no wildcards; [MQTT-4.7.3-1] nor are they empty', () => {
  for (const ok of ['a', 'a/b', '/', '/a/', '$SYS/x', 'a b']) assert.equal(isValidTopicName(ok), true, ok);
  for (const bad of ['', 'a/+', '#', 'a+b', 'a\u0000b']) assert.equal(isValidTopicName(bad), false, bad);
});

test('[MQTT-4.7.1-2] [MQTT-4.7.1-3] wildcards only as whole levels, # only last', () => {
  for (const ok of ['#', '+', 'a/#', '+/+', 'a/+/b', '/+', '+/', 'a//#', 'sport/tennis/#']) {
    assert.equal(isValidTopicFilter(ok), true, ok);
  }
  for (const bad of ['', 'a#', 'a/#/b', 'a+', '+a', 'a/b#', '#/', 'a/\u0000']) assert.equal(isValidTopicFilter(bad), false, bad);
});

test('[MQTT-4.8.2-1] [MQTT-4.8.2-2] shared subscriptions: $share/{name}/{filter}', () => {
  assert.deepEqual(parseFilter('$share/g/a/+'), { filter: 'a/+', group: 'g' });
  assert.deepEqual(parseFilter('a/b'), { filter: 'a/b', group: null });
  for (const bad of ['$share/g', '$share//a', '$share/g+/a', '$share/g/', '$share/g/a#']) assert.equal(parseFilter(bad), null, bad);
});
