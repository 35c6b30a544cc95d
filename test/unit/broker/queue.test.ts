import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeliveryState, type Delivery } from '../../../src/broker/delivery.js';
import { createMessage, type QoS } from '../../../src/broker/message.js';
import { DeliveryQueue, EnqueueResult } from '../../../src/broker/queue.js';

const d = (payload: string, qos: QoS): Delivery => ({
  msg: createMessage('t', Buffer.from(payload), qos, false),
  qos,
  retain: false,
  subIds: null,
  packetId: 0,
  state: DeliveryState.queued,
});

test('the session queue is FIFO and bounded: the oldest QoS 0 message gives way first', () => {
  const q = new DeliveryQueue(3);
  assert.equal(q.push(d('a', 1)), EnqueueResult.queued);
  assert.equal(q.push(d('b', 0)), EnqueueResult.queued);
  assert.equal(q.push(d('c', 0)), EnqueueResult.queued);
  assert.equal(q.push(d('d', 1)), EnqueueResult.replacedQos0);
  assert.equal(q.push(d('e', 2)), EnqueueResult.replacedQos0);
  assert.equal(q.push(d('f', 1)), EnqueueResult.dropped);
  const out: string[] = [];
  for (let x = q.shift(); x; x = q.shift()) out.push(x.msg.payload.toString());
  assert.deepEqual(out, ['a', 'd', 'e']);
  assert.equal(q.length, 0);
});

test('the queue compacts as it is consumed', () => {
  const q = new DeliveryQueue(10_000);
  for (let i = 0; i < 5000; i++) q.push(d(String(i), 1));
  for (let i = 0; i < 4000; i++) assert.equal(q.shift()?.msg.payload.toString(), String(i));
  assert.equal(q.length, 1000);
  assert.equal(q.peek()?.msg.payload.toString(), '4000');
});
