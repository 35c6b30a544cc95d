import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IPublishPacket } from 'mqtt-packet';
import type { TestGateway } from '../../helpers/gateway.js';
import { RawTcpClient, connectBytes, packetBytes, publishBytes, subscribeBytes } from '../../helpers/raw-mqtt.js';
import { closeAll, connect, Inbox, startBroker, vname, VERSIONS , tcpPort } from './helpers.js';

let gw: TestGateway;
before(async () => (gw = await startBroker()));
after(async () => {
  await closeAll();
  await gw.close();
});

for (const version of VERSIONS) {
  for (const via of ['mqttUrl', 'wsUrl'] as const) {
    test(`${vname(version)} over ${via}: [MQTT-3.8.4-6] QoS 0, 1 and 2 both ways, granted QoS = min(subscribed, published)`, async () => {
      const pub = await connect(gw[via], { protocolVersion: version, clientId: `qpub-${via}-${version}` });
      const subs = await Promise.all(
        ([0, 1, 2] as const).map(async (qos) => {
          const c = await connect(gw[via], { protocolVersion: version, clientId: `qsub${qos}-${via}-${version}` });
          const granted = await c.subscribeAsync(`q/${via}/${version}`, { qos });
          assert.equal(granted[0]?.qos, qos);
          return { qos, inbox: new Inbox(c) };
        }),
      );
      for (const qos of [0, 1, 2] as const) await pub.publishAsync(`q/${via}/${version}`, `m${qos}`, { qos });
      for (const { qos: subQos, inbox } of subs) {
        const got = await inbox.take(3);
        assert.deepEqual(got.map((m) => m.payload), ['m0', 'm1', 'm2']);
        assert.deepEqual(got.map((m) => m.packet.qos), [0, Math.min(subQos, 1), Math.min(subQos, 2)]);
      }
    });
  }

  test(`${vname(version)}: [MQTT-4.3.3-10] a QoS 2 PUBLISH resent before PUBREL is acknowledged but not delivered twice`, async () => {
    const sub = await connect(gw.mqttUrl, { protocolVersion: version, clientId: `q2sub-${version}` });
    const inbox = new Inbox(sub);
    await sub.subscribeAsync(['dup/q2', 'dup/marker'], { qos: 2 });
    const raw = await RawTcpClient.open(tcpPort(gw), version);
    raw.socket.write(connectBytes(`q2raw-${version}`, version));
    await raw.log.first('connack');
    const publish = publishBytes('dup/q2', 'once', { qos: 2, messageId: 42, protocolVersion: version });
    raw.socket.write(publish);
    const again = Buffer.from(publish);
    again[0] = (again[0] as number) | 0x08; // DUP
    raw.socket.write(again);
    raw.socket.write(packetBytes({ cmd: 'pubrel', messageId: 42 }, version));
    await raw.log.first('pubcomp');
    assert.equal(raw.log.count('pubrec'), 2);
    await sub.publishAsync('dup/marker', 'm', { qos: 1 });
    assert.deepEqual((await inbox.nothingBefore('dup/marker')).map((m) => m.payload), ['once']);
    await raw.close();
  });

  test(`${vname(version)}: [MQTT-2.2.1-3] QoS 1 to a raw client: packet ids are non-zero`, async () => {
    const raw = await RawTcpClient.open(tcpPort(gw), version);
    raw.socket.write(connectBytes(`q1raw-${version}`, version));
    await raw.log.first('connack');
    raw.socket.write(subscribeBytes('ids/#', 1, version));
    await raw.log.first('suback');
    const pub = await connect(gw.mqttUrl, { protocolVersion: version, clientId: `q1pub-${version}` });
    await pub.publishAsync('ids/a', 'x', { qos: 1 });
    const first = await raw.log.first<IPublishPacket>('publish');
    assert.ok((first.messageId ?? 0) > 0);
    assert.equal(first.dup, false);
    raw.socket.write(packetBytes({ cmd: 'puback', messageId: first.messageId }, version));
    await raw.close();
  });
}
