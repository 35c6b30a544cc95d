import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { MqttFramer } from '../../../src/mqtt/framer.js';
import { FramingError } from '../../../src/errors.js';

const packets = [
  mqttPacket.generate({ cmd: 'connect', clientId: 'c', protocolVersion: 4, clean: true, keepalive: 30 }),
  mqttPacket.generate({ cmd: 'publish', topic: 'a/b', payload: Buffer.alloc(300, 7), qos: 1, messageId: 1, retain: false, dup: false }),
  mqttPacket.generate({ cmd: 'pingreq' }),
  mqttPacket.generate({ cmd: 'publish', topic: 'x', payload: Buffer.alloc(20_000, 1), qos: 0, retain: false, dup: false }),
  mqttPacket.generate({ cmd: 'disconnect' }),
];
const stream = Buffer.concat(packets);

function frame(chunks: Buffer[], max = 1 << 20): Buffer[] {
  const out: Buffer[] = [];
  const framer = new MqttFramer(max, (p) => out.push(Buffer.from(p)));
  for (const chunk of chunks) framer.push(chunk);
  assert.equal(framer.idle, true);
  return out;
}

test('packets in one chunk are cut at their boundaries [MQTT-6.0.0-2]', () => {
  assert.deepEqual(frame([stream]), packets);
});

test('a stream fed one byte at a time gives the same packets', () => {
  const bytes = [...stream].map((b) => Buffer.from([b]));
  assert.deepEqual(frame(bytes), packets);
});

test('any split into chunks gives the same packets', () => {
  for (let seed = 1; seed <= 200; seed++) {
    const chunks: Buffer[] = [];
    let offset = 0;
    let state = seed;
    while (offset < stream.length) {
      state = (state * 1103515245 + 12345) & 0x7fffffff;
      const size = 1 + (state % 700);
      chunks.push(stream.subarray(offset, offset + size));
      offset += size;
    }
    assert.deepEqual(frame(chunks), packets, `split with seed ${seed}`);
  }
});

test('a packet that lies whole in its chunk is a view of it, not a copy', () => {
  const views: Buffer[] = [];
  new MqttFramer(1 << 20, (p) => views.push(p)).push(stream);
  assert.equal(views[0]?.buffer, stream.buffer);
});

test('a declared size over the limit is refused before its body is buffered', () => {
  const header = packets[3]?.subarray(0, 4) as Buffer; // fixed header of the 20 kB publish, body not yet sent
  const framer = new MqttFramer(10_000, () => assert.fail('no packet expected'));
  assert.throws(() => framer.push(header), (err: FramingError) => err.reason === 'packetTooLarge');
});

test('a Remaining Length of more than four bytes is malformed [MQTT-2.2.3]', () => {
  const framer = new MqttFramer(1 << 28, () => {});
  assert.throws(
    () => framer.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])),
    (err: FramingError) => err.reason === 'protocolError',
  );
});

test('the framer reports when a stream stops inside a packet', () => {
  const framer = new MqttFramer(1 << 20, () => {});
  framer.push(stream.subarray(0, stream.length - 1));
  assert.equal(framer.idle, false);
});
