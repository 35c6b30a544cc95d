import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnackPacket, IDisconnectPacket } from 'mqtt-packet';
import type { TestGateway } from '../../helpers/gateway.js';
import { RawTcpClient, connectBytes } from '../../helpers/raw-mqtt.js';
import { closeAll, connect, Inbox, next, startBroker, vname, VERSIONS , tcpPort } from './helpers.js';

let gw: TestGateway;
before(async () => (gw = await startBroker()));
after(async () => {
  await closeAll();
  await gw.close();
});

const present = (c: unknown) => (c as { connackPacket?: IConnackPacket }).connackPacket?.sessionPresent;

for (const version of VERSIONS) {
  const persistent = version === 5 ? { clean: false, properties: { sessionExpiryInterval: 300 } } : { clean: false };

  test(`${vname(version)}: [MQTT-3.2.2-2] [MQTT-3.2.2-3] session present only when a stored session is resumed`, async () => {
    const id = `sp-${version}`;
    const first = await connect(gw.mqttUrl, { protocolVersion: version, clientId: id, ...persistent });
    assert.equal(present(first), false);
    await first.subscribeAsync('sp/topic', { qos: 1 });
    await first.endAsync();
    const second = await connect(gw.mqttUrl, { protocolVersion: version, clientId: id, ...persistent });
    assert.equal(present(second), true);
    await second.endAsync();
    // Clean start discards it [MQTT-3.1.2-4].
    const third = await connect(gw.mqttUrl, { protocolVersion: version, clientId: id, clean: true });
    assert.equal(present(third), false);
  });

  test(`${vname(version)}: [MQTT-3.1.2-6] a clean session ends with its connection: subscriptions are gone`, async () => {
    const id = `clean-${version}`;
    const first = await connect(gw.mqttUrl, { protocolVersion: version, clientId: id, clean: true });
    await first.subscribeAsync('clean/topic', { qos: 1 });
    await first.endAsync();
    const again = await connect(gw.mqttUrl, { protocolVersion: version, clientId: id, clean: false, properties: version === 5 ? { sessionExpiryInterval: 60 } : {} });
    assert.equal(present(again), false);
    const inbox = new Inbox(again);
    const pub = await connect(gw.mqttUrl, { protocolVersion: version, clientId: `clean-pub-${version}` });
    await again.subscribeAsync('marker', { qos: 0 });
    await pub.publishAsync('clean/topic', 'x', { qos: 1 });
    await pub.publishAsync('marker', 'm', { qos: 1 });
    assert.deepEqual(await inbox.nothingBefore('marker'), []);
  });

  test(`${vname(version)}: [MQTT-3.1.4-3] a second connection with the same client id takes over the session`, async () => {
    const id = `takeover-${version}`;
    const old = await RawTcpClient.open(tcpPort(gw), version);
    old.socket.write(connectBytes(id, version, false));
    await old.log.first('connack');
    const fresh = await connect(gw.mqttUrl, { protocolVersion: version, clientId: id, ...persistent });
    await old.closed;
    if (version === 5) assert.equal((await old.log.first<IDisconnectPacket>('disconnect')).reasonCode, 0x8e);
    assert.equal(fresh.connected, true);
    // The new connection works and keeps working.
    const inbox = new Inbox(fresh);
    await fresh.subscribeAsync('to/self');
    await fresh.publishAsync('to/self', 'still here');
    assert.equal((await inbox.take(1))[0]?.payload, 'still here');
    await old.close();
  });
}

test('session takeover over WebSocket: the old WebSocket is closed', async () => {
  const old = await connect(gw.wsUrl, { protocolVersion: 5, clientId: 'ws-takeover' });
  const closed = next(old, 'close');
  await connect(gw.wsUrl, { protocolVersion: 5, clientId: 'ws-takeover' });
  await closed;
});
