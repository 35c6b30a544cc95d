import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { connackCode, connackCodeName } from '../../../src/mqtt/connack.js';

test('reads the CONNACK return code of MQTT 3.1.1 and the reason code of 5.0 [MQTT-3.2.2.3]', () => {
  const v4 = mqttPacket.generate({ cmd: 'connack', returnCode: 5, sessionPresent: false }, { protocolVersion: 4 });
  const v5 = mqttPacket.generate(
    { cmd: 'connack', reasonCode: 0x86, sessionPresent: false, properties: { reasonString: 'x'.repeat(200) } },
    { protocolVersion: 5 },
  );
  assert.equal(connackCode(v4), 5);
  assert.equal(connackCode(v5), 0x86, 'a two-byte Remaining Length');
  assert.equal(connackCodeName(5), 'not_authorized');
  assert.equal(connackCodeName(0x86), 'bad_username_or_password');
  assert.equal(connackCodeName(0x42), 'code_0x42');
});

test('asks for more bytes until the code is there, whatever the split', () => {
  const v5 = mqttPacket.generate({ cmd: 'connack', reasonCode: 0, sessionPresent: true, properties: { reasonString: 'y'.repeat(300) } }, { protocolVersion: 5 });
  for (let n = 0; n < 5; n++) assert.equal(connackCode(v5.subarray(0, n)), undefined, `${n} bytes`);
  assert.equal(connackCode(v5.subarray(0, 5)), 0);
});

test('says null when the bytes are not a CONNACK', () => {
  assert.equal(connackCode(Buffer.from([0x30, 0x02, 0x00, 0x00])), null);
  assert.equal(connackCode(Buffer.from([0x20, 0xff, 0xff, 0xff, 0xff, 0x01])), null, 'more than four length bytes');
});
