import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket, { type IPubackPacket, type Packet } from 'mqtt-packet';
import { AckType, encodeAck } from '../../../../src/broker/codec/acks.js';

function parse(bytes: Buffer, protocolVersion: 4 | 5): Packet[] {
  const parser = mqttPacket.parser({ protocolVersion });
  const packets: Packet[] = [];
  parser.on('packet', (p: Packet) => packets.push(p));
  parser.on('error', (err: Error) => assert.fail(err));
  // Byte by byte: the lengths must add up exactly.
  for (const byte of bytes) parser.parse(Buffer.from([byte]));
  return packets;
}

test('[MQTT-3.4.2-1] PUBACK: 2 bytes for Success or 3.1.1, the reason code after the packet id otherwise', () => {
  assert.deepEqual([...encodeAck(AckType.puback, 0x0102, 0, true)], [0x40, 2, 1, 2]);
  assert.deepEqual([...encodeAck(AckType.puback, 0x0102, 0x97, false)], [0x40, 2, 1, 2]);
  assert.deepEqual([...encodeAck(AckType.puback, 0x0102, 0x97, true)], [0x40, 3, 1, 2, 0x97]);
});

test('MQTT 5.0: a Reason String goes in the properties, as mqtt-packet reads it', () => {
  for (const [type, cmd] of [[AckType.puback, 'puback'], [AckType.pubrec, 'pubrec']] as const) {
    for (const text of ['retained message limit reached', 'é'.repeat(100)]) {
      const [packet] = parse(encodeAck(type, 7, 0x97, true, text), 5) as IPubackPacket[];
      assert.equal(packet?.cmd, cmd);
      assert.equal(packet?.messageId, 7);
      assert.equal(packet?.reasonCode, 0x97);
      assert.deepEqual(packet?.properties, { reasonString: text });
    }
  }
});

test('3.1.1 never gets a Reason String', () => {
  const [packet] = parse(encodeAck(AckType.puback, 7, 0x87, false, 'not authorized'), 4) as IPubackPacket[];
  assert.equal(packet?.messageId, 7);
  assert.equal(packet?.properties, undefined);
});
