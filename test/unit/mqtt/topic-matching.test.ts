import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterCovers, topicMatches, unshared } from '../../../src/mqtt/topics.js';

test('topicMatches: +, #, exact, and $ topics kept from first-level wildcards [MQTT-4.7.2-1]', () => {
  assert.equal(topicMatches('a/+/c', 'a/b/c'), true);
  assert.equal(topicMatches('a/+/c', 'a/b/d'), false);
  assert.equal(topicMatches('a/#', 'a'), true);
  assert.equal(topicMatches('a/#', 'a/b/c'), true);
  assert.equal(topicMatches('a/b', 'a/b/c'), false);
  assert.equal(topicMatches('a/b/c', 'a/b'), false);
  assert.equal(topicMatches('#', '$SYS/x'), false);
  assert.equal(topicMatches('+/x', '$SYS/x'), false);
  assert.equal(topicMatches('$SYS/#', '$SYS/x'), true);
  assert.equal(topicMatches('a/+', 'a/'), true);
});

test('filterCovers: a requested filter is allowed only if everything it matches is allowed', () => {
  assert.equal(filterCovers('a/#', 'a/b/+'), true);
  assert.equal(filterCovers('a/#', 'a/#'), true);
  assert.equal(filterCovers('a/+', 'a/b'), true);
  assert.equal(filterCovers('a/+', 'a/+'), true);
  assert.equal(filterCovers('a/+', 'a/#'), false);
  assert.equal(filterCovers('a/b', 'a/+'), false);
  assert.equal(filterCovers('a/+/c', 'a/x/c'), true);
  assert.equal(filterCovers('a/+/c', 'a/x/+'), false);
  assert.equal(filterCovers('#', '$SYS/#'), false);
  assert.equal(filterCovers('$SYS/#', '$SYS/broker/+'), true);
  assert.equal(filterCovers('users/alice/#', 'users/bob/x'), false);
});

test('shared subscriptions are checked by their filter', () => {
  assert.equal(unshared('$share/g1/a/b'), 'a/b');
  assert.equal(unshared('a/b'), 'a/b');
  assert.equal(unshared('$share/g'), '$share/g');
});
