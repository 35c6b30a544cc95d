import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IPublishPacket } from 'mqtt-packet';
import type { TestGateway } from '../../helpers/gateway.js';
import { RawTcpClient, connectBytes, packetBytes, subscribeBytes } from '../../helpers/raw-mqtt.js';
import { waitFor } from '../../helpers/wait.js';
import { closeAll, connect, connectWithInbox, startBroker, vname, VERSIONS , tcpPort } from './helpers.js';

let gw: TestGateway;
before(async () => (gw = await startBroker({ MAX_QUEUED_MESSAGES: '5', LOG_LEVEL: 'warn' })));
after(async () => {
  await closeAll();
  await gw.close();
});

/** A raw client with a session that outlives the connection. */
async function rawPersistent(id: string, version: 4 | 5): Promise<RawTcpClient> {
  const raw = await RawTcpClient.open(tcpPort(gw), version);
  const bytes =
    version === 5
      ? packetBytes({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: id, clean: false, keepalive: 0, properties: { sessionExpiryInterval: 600 } }, 5)
      : connectBytes(id, 4, false);
  raw.socket.write(bytes);
  await raw.log.first('connack');
  return raw;
}

for (const version of VERSIONS) {
  const persistent = version === 5 ? { clean: false, properties: { sessionExpiryInterval: 600 } } : { clean: false };

  test(`${vname(version)}: [MQTT-3.1.2-5] messages for an offline persistent session are queued and delivered on reconnect`, async () => {
    const id = `offline-${version}`;
    const sub = await connect(gw.mqttUrl, { protocolVersion: version, clientId: id, ...persistent });
    await sub.subscribeAsync('offline/t', { qos: 1 });
    await sub.endAsync();
    const pub = await connect(gw.mqttUrl, { protocolVersion: version, clientId: `offline-pub-${version}` });
    for (let i = 0; i < 3; i++) await pub.publishAsync('offline/t', `m${i}`, { qos: 1 });
    await pub.publishAsync('offline/t', 'qos0 is not kept', { qos: 0 });
    const [, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: version, clientId: id, ...persistent });
    const got = await inbox.take(3);
    assert.deepEqual(got.map((m) => m.payload), ['m0', 'm1', 'm2']);
  });

  test(`${vname(version)}: [MQTT-4.4.0-1] [MQTT-3.3.1-1] unacknowledged QoS 1 and 2 messages are resent with DUP, PUBREL resent`, async () => {
    const id = `dup-${version}`;
    let raw = await rawPersistent(id, version);
    raw.socket.write(subscribeBytes('redeliver/#', 2, version));
    await raw.log.first('suback');
    const pub = await connect(gw.mqttUrl, { protocolVersion: version, clientId: `dup-pub-${version}` });
    await pub.publishAsync('redeliver/q1', 'one', { qos: 1 });
    await pub.publishAsync('redeliver/q2', 'two', { qos: 2 });
    await pub.publishAsync('redeliver/q2b', 'three', { qos: 2 });
    await waitFor(() => raw.log.count('publish') === 3, 'three PUBLISH packets');
    const [q1, q2, q2b] = raw.log.packets.filter((p): p is IPublishPacket => p.cmd === 'publish');
    // PUBREC for the second only: its flow moves on to PUBREL.
    raw.socket.write(packetBytes({ cmd: 'pubrec', messageId: q2?.messageId }, version));
    await raw.log.first('pubrel');
    await raw.close();

    raw = await rawPersistent(id, version);
    await waitFor(() => raw.log.count('publish') === 2 && raw.log.count('pubrel') === 1, 'the resent packets');
    const again = raw.log.packets.filter((p): p is IPublishPacket => p.cmd === 'publish');
    assert.deepEqual(again.map((p) => [p.topic, p.messageId, p.dup]), [
      ['redeliver/q1', q1?.messageId, true],
      ['redeliver/q2b', q2b?.messageId, true],
    ]);
    assert.equal((await raw.log.first('pubrel')).messageId, q2?.messageId);
    await raw.close();
  });

  test(`${vname(version)}: the offline queue is bounded (MAX_QUEUED_MESSAGES), the overflow logged once`, async () => {
    const id = `bounded-${version}`;
    const sub = await connect(gw.mqttUrl, { protocolVersion: version, clientId: id, ...persistent });
    await sub.subscribeAsync('bounded/t', { qos: 1 });
    await sub.endAsync();
    const pub = await connect(gw.mqttUrl, { protocolVersion: version, clientId: `bounded-pub-${version}` });
    for (let i = 0; i < 12; i++) await pub.publishAsync('bounded/t', `m${i}`, { qos: 1 });
    const [back, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: version, clientId: id, ...persistent });
    await back.subscribeAsync('bounded/marker', { qos: 1 });
    await pub.publishAsync('bounded/marker', 'end', { qos: 1 });
    const got = await inbox.nothingBefore('bounded/marker');
    assert.deepEqual(got.map((m) => m.payload), ['m0', 'm1', 'm2', 'm3', 'm4']);
    const warnings = gw.logs.filter((l) => l.msg === 'session queue full, dropping messages' && l.clientId === id);
    assert.equal(warnings.length, 1);
  });
}
