import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { timePasses } from '../../helpers/wait.js';
import type { IPubackPacket, IPublishPacket } from 'mqtt-packet';
import type { TestGateway } from '../../helpers/gateway.js';
import { RawTcpClient, connectBytes, packetBytes, subscribeBytes } from '../../helpers/raw-mqtt.js';
import { closeAll, connect, connectWithInbox, startBroker , tcpPort } from './helpers.js';

let gw: TestGateway;
before(async () => (gw = await startBroker()));
after(async () => {
  await closeAll();
  await gw.close();
});

test('MQTT 5.0: [MQTT-3.3.2-17] [MQTT-3.3.2-18] [MQTT-3.3.2-4] [MQTT-3.3.2-20] properties are forwarded unaltered, user properties in order', async () => {
  const [sub, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: 5, clientId: 'p5-sub' });
  await sub.subscribeAsync('p5/t', { qos: 1 });
  const pub = await connect(gw.wsUrl, { protocolVersion: 5, clientId: 'p5-pub' });
  const properties = {
    payloadFormatIndicator: true,
    contentType: 'application/json',
    responseTopic: 'p5/reply',
    correlationData: Buffer.from([1, 2, 3]),
    userProperties: { z: 'last', a: ['1', '2'] },
  };
  await pub.publishAsync('p5/t', '{"ok":true}', { qos: 1, properties });
  const [got] = await inbox.take(1);
  const props = got?.packet.properties;
  assert.equal(props?.payloadFormatIndicator, true);
  assert.equal(props?.contentType, 'application/json');
  assert.equal(props?.responseTopic, 'p5/reply');
  assert.deepEqual(props?.correlationData, Buffer.from([1, 2, 3]));
  assert.deepEqual(Object.entries(props?.userProperties ?? {}), [['z', 'last'], ['a', ['1', '2']]]);
});

test('MQTT 5.0: [MQTT-3.3.2-6] the message expiry interval is sent on reduced by the time the message waited', async () => {
  const id = 'exp-sub';
  const persistent = { clean: false, properties: { sessionExpiryInterval: 60 } };
  const sub = await connect(gw.mqttUrl, { protocolVersion: 5, clientId: id, ...persistent });
  await sub.subscribeAsync('exp/t', { qos: 1 });
  await sub.endAsync();
  const pub = await connect(gw.mqttUrl, { protocolVersion: 5, clientId: 'exp-pub' });
  await pub.publishAsync('exp/t', 'lives', { qos: 1, properties: { messageExpiryInterval: 100 } });
  await pub.publishAsync('exp/t', 'dies', { qos: 1, properties: { messageExpiryInterval: 1 } });
  await timePasses(1100); // a 1 s message expiry must run out
  const [, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: 5, clientId: id, ...persistent });
  await pub.publishAsync('exp/t', 'marker', { qos: 1 });
  const got = await inbox.take(2);
  // [MQTT-3.3.2-5] the expired one is not delivered.
  assert.deepEqual(got.map((m) => m.payload), ['lives', 'marker']);
  const left = got[0]?.packet.properties?.messageExpiryInterval ?? 0;
  assert.ok(left >= 98 && left <= 99, `expiry left ${left}`);
});

test('MQTT 5.0: PUBACK says 0x10 (no matching subscribers) when no one subscribes', async () => {
  const raw = await RawTcpClient.open(tcpPort(gw), 5);
  raw.socket.write(connectBytes('nomatch', 5));
  await raw.log.first('connack');
  raw.socket.write(packetBytes({ cmd: 'publish', topic: 'nobody/listens', payload: 'x', qos: 1, messageId: 3, dup: false, retain: false }, 5));
  assert.equal((await raw.log.first<IPubackPacket>('puback')).reasonCode, 0x10);
  await raw.close();
});

test('MQTT 5.0: a PUBLISH whose payload is not the UTF-8 its format indicator claims gets PUBACK 0x99', async () => {
  const raw = await RawTcpClient.open(tcpPort(gw), 5);
  raw.socket.write(connectBytes('pfi', 5));
  await raw.log.first('connack');
  raw.socket.write(
    packetBytes({ cmd: 'publish', topic: 'pfi', payload: Buffer.from([0xff, 0xfe]), qos: 1, messageId: 4, dup: false, retain: false, properties: { payloadFormatIndicator: true } }, 5),
  );
  assert.equal((await raw.log.first<IPubackPacket>('puback')).reasonCode, 0x99);
  await raw.close();
});

test('MQTT 5.0: [MQTT-3.1.2-24] [MQTT-3.1.2-25] a message larger than the client\'s Maximum Packet Size is not sent to it', async () => {
  const raw = await RawTcpClient.open(tcpPort(gw), 5);
  raw.socket.write(packetBytes({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'small', clean: true, keepalive: 0, properties: { maximumPacketSize: 64 } }, 5));
  await raw.log.first('connack');
  raw.socket.write(subscribeBytes('size/#', 1, 5));
  await raw.log.first('suback');
  const pub = await connect(gw.mqttUrl, { protocolVersion: 5, clientId: 'size-pub' });
  await pub.publishAsync('size/big', Buffer.alloc(200), { qos: 1 });
  await pub.publishAsync('size/small', 'ok', { qos: 1 });
  const first = await raw.log.first<IPublishPacket>('publish');
  assert.equal(first.topic, 'size/small');
  await raw.close();
});
