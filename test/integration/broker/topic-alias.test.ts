import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IDisconnectPacket } from 'mqtt-packet';
import type { TestGateway } from '../../helpers/gateway.js';
import { RawTcpClient, connectBytes, packetBytes } from '../../helpers/raw-mqtt.js';
import { closeAll, connectWithInbox, startBroker , tcpPort } from './helpers.js';

let gw: TestGateway;
before(async () => (gw = await startBroker()));
after(async () => {
  await closeAll();
  await gw.close();
});

async function rawV5(id: string): Promise<RawTcpClient> {
  const raw = await RawTcpClient.open(tcpPort(gw), 5);
  raw.socket.write(connectBytes(id, 5));
  await raw.log.first('connack');
  return raw;
}

const publish = (topic: string, payload: string, topicAlias: number) =>
  packetBytes({ cmd: 'publish', topic, payload, qos: 0, dup: false, retain: false, properties: { topicAlias } }, 5);

test('MQTT 5.0: [MQTT-3.3.2-10] [MQTT-3.3.2-12] a topic alias set by one PUBLISH names the topic of the next', async () => {
  const [sub, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: 5, clientId: 'alias-sub' });
  await sub.subscribeAsync('alias/long/topic/name');
  const raw = await rawV5('alias-pub');
  raw.socket.write(publish('alias/long/topic/name', 'one', 3));
  raw.socket.write(publish('', 'two', 3));
  const got = await inbox.take(2);
  assert.deepEqual(got.map((m) => [m.topic, m.payload]), [['alias/long/topic/name', 'one'], ['alias/long/topic/name', 'two']]);
  await raw.close();
});

test('MQTT 5.0: [MQTT-3.3.2-9] a topic alias above the announced maximum: DISCONNECT 0x94', async () => {
  const raw = await rawV5('alias-big');
  raw.socket.write(publish('a', 'x', 11));
  await raw.closed;
  assert.equal((await raw.log.first<IDisconnectPacket>('disconnect')).reasonCode, 0x94);
});

test('MQTT 5.0: an alias never set: DISCONNECT 0x82', async () => {
  const raw = await rawV5('alias-unknown');
  raw.socket.write(publish('', 'x', 2));
  await raw.closed;
  assert.equal((await raw.log.first<IDisconnectPacket>('disconnect')).reasonCode, 0x82);
});
