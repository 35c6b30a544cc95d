import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IDisconnectPacket } from 'mqtt-packet';
import type { TestGateway } from '../../helpers/gateway.js';
import { RawTcpClient, connectBytes, packetBytes, publishBytes } from '../../helpers/raw-mqtt.js';
import { closeAll, connectWithInbox, startBroker, vname, VERSIONS , tcpPort } from './helpers.js';

let gw: TestGateway;
before(async () => (gw = await startBroker()));
after(async () => {
  await closeAll();
  await gw.close();
});

/** Each entry: bytes a connected client sends, and the MQTT 5 DISCONNECT code it earns. */
function cases(version: 4 | 5): { name: string; bytes: Buffer; code: number }[] {
  const badUtf8 = publishBytes('ab', 'x', { protocolVersion: version });
  badUtf8[4] = 0xc3; // a lead byte followed by "b": not UTF-8
  const id0 = publishBytes('t', 'x', { qos: 1, messageId: 1, protocolVersion: version });
  id0.writeUInt16BE(0, 5);
  const reserved = packetBytes({ cmd: 'pubrel', messageId: 1 }, version);
  reserved[0] = 0x60; // PUBREL must have flags 0010
  const qos3 = publishBytes('t', 'x', { protocolVersion: version });
  qos3[0] = 0x36;
  return [
    { name: '[MQTT-3.3.2-2] a wildcard in a PUBLISH topic', bytes: publishBytes('a/+', 'x', { protocolVersion: version }), code: 0x82 },
    { name: '[MQTT-1.5.4-1] a topic that is not UTF-8', bytes: badUtf8, code: 0x81 },
    { name: '[MQTT-2.2.1-3] packet identifier 0 at QoS 1', bytes: id0, code: 0x82 },
    { name: '[MQTT-2.2.2-2] reserved flags not as specified', bytes: reserved, code: 0x81 },
    { name: '[MQTT-3.3.1-4] QoS 3', bytes: qos3, code: 0x81 },
    { name: '[MQTT-3.8.3-2] SUBSCRIBE without filters', bytes: Buffer.from([0x82, 0x02, 0x00, 0x01]), code: 0x82 },
  ];
}

for (const version of VERSIONS) {
  for (const c of cases(version)) {
    test(`${vname(version)}: ${c.name} closes that client${version === 5 ? ` with DISCONNECT 0x${c.code.toString(16)}` : ''}, others unaffected`, async () => {
      const [other, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: version, clientId: `bystander-${version}` });
      await other.subscribeAsync('still/alive');
      const raw = await RawTcpClient.open(tcpPort(gw), version);
      raw.socket.write(connectBytes(`offender-${version}`, version));
      await raw.log.first('connack');
      raw.socket.write(c.bytes);
      await raw.closed;
      if (version === 5) {
        const disconnect = raw.log.packets.find((p): p is IDisconnectPacket => p.cmd === 'disconnect');
        assert.ok(disconnect, 'a DISCONNECT before the close');
        assert.ok([0x81, 0x82].includes(disconnect.reasonCode ?? 0), `reason 0x${disconnect.reasonCode?.toString(16)}`);
        if (c.code !== 0x81) assert.equal(disconnect.reasonCode, c.code);
      }
      await other.publishAsync('still/alive', 'yes');
      assert.equal((await inbox.take(1))[0]?.payload, 'yes');
      await other.endAsync();
    });
  }
}
