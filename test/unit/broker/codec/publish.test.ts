import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket, { type IPublishPacket } from 'mqtt-packet';
import { decodePublish, encodePublish } from '../../../../src/broker/codec/publish.js';
import { createMessage } from '../../../../src/broker/message.js';
import { ProtocolViolation } from '../../../../src/broker/reason-codes.js';

const gen = (p: Partial<IPublishPacket>, protocolVersion = 4) =>
  mqttPacket.generate({ cmd: 'publish', topic: 't', payload: 'x', qos: 0, dup: false, retain: false, ...p } as IPublishPacket, { protocolVersion });

function parse(bytes: Buffer, protocolVersion: number): IPublishPacket {
  const parser = mqttPacket.parser({ protocolVersion });
  let out: IPublishPacket | undefined;
  parser.on('packet', (p) => (out = p as IPublishPacket));
  parser.on('error', (e: Error) => assert.fail(e));
  parser.parse(bytes);
  assert.ok(out);
  return out;
}

test('decodes PUBLISH at each QoS, 3.1.1 and 5.0', () => {
  const p = decodePublish(gen({ topic: 'a/é', payload: 'hi', qos: 1, messageId: 7, retain: true }), false);
  assert.deepEqual([p.topic, p.qos, p.packetId, p.retain, p.payload.toString()], ['a/é', 1, 7, true, 'hi']);
  const p5 = decodePublish(
    gen({ qos: 2, messageId: 9, properties: { messageExpiryInterval: 60, topicAlias: 3, userProperties: { a: '1', b: ['2', '3'] }, contentType: 'text/plain' } }, 5),
    true,
  );
  assert.deepEqual([p5.qos, p5.packetId, p5.expiry, p5.topicAlias], [2, 9, 60, 3]);
  // The forwarded bytes hold exactly the forwardable properties.
  const msg = createMessage('t', Buffer.from('x'), 0, false, p5.properties);
  const back = parse(encodePublish(msg, { v5: true, qos: 0, retain: false, dup: false, packetId: 0, expiry: -1, subIds: null }), 5);
  assert.deepEqual(JSON.parse(JSON.stringify(back.properties)), { userProperties: { a: '1', b: ['2', '3'] }, contentType: 'text/plain' });
});

test('encodes what mqtt-packet reads back: QoS, DUP, retain, expiry, subscription identifiers', () => {
  const msg = createMessage('x/y', Buffer.from('payload'), 2, true);
  const v4 = parse(encodePublish(msg, { v5: false, qos: 1, retain: true, dup: true, packetId: 513, expiry: -1, subIds: null }), 4);
  assert.deepEqual([v4.topic, v4.qos, v4.dup, v4.retain, v4.messageId, v4.payload.toString()], ['x/y', 1, true, true, 513, 'payload']);
  const v5 = parse(encodePublish(msg, { v5: true, qos: 2, retain: false, dup: false, packetId: 1, expiry: 30, subIds: [1, 300] }), 5);
  assert.deepEqual(v5.properties, { messageExpiryInterval: 30, subscriptionIdentifier: [1, 300] });
});

function violation(bytes: Buffer, v5: boolean): string {
  try {
    decodePublish(bytes, v5);
  } catch (err) {
    assert.ok(err instanceof ProtocolViolation);
    return err.reason;
  }
  return 'none';
}

test('[MQTT-3.3.2-2] [MQTT-1.5.4-1] [MQTT-2.2.1-3] [MQTT-3.3.1-4] [MQTT-3.3.4-6] bad PUBLISH packets are refused', () => {
  assert.equal(violation(gen({ topic: 'a/+' }), false), 'protocolError');
  const badUtf8 = gen({ topic: 'ab' });
  badUtf8[4] = 0xff;
  assert.equal(violation(badUtf8, false), 'malformedPacket');
  const id0 = gen({ qos: 1, messageId: 1 });
  id0.writeUInt16BE(0, 5);
  assert.equal(violation(id0, false), 'protocolError');
  const qos3 = gen({});
  qos3[0] = 0x36;
  assert.equal(violation(qos3, false), 'malformedPacket');
  const dup0 = gen({});
  dup0[0] = 0x38;
  assert.equal(violation(dup0, false), 'malformedPacket');
  assert.equal(violation(gen({ properties: { subscriptionIdentifier: 4 } }, 5), true), 'protocolError');
  assert.equal(violation(gen({ properties: { topicAlias: 0 } }, 5), true), 'topicAliasInvalid');
});
