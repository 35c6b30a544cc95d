import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ISubackPacket, IUnsubackPacket } from 'mqtt-packet';
import type { TestGateway } from '../../helpers/gateway.js';
import { RawTcpClient, connectBytes, packetBytes } from '../../helpers/raw-mqtt.js';
import { closeAll, connect, connectWithInbox, startBroker , tcpPort } from './helpers.js';

let gw: TestGateway;
before(async () => (gw = await startBroker()));
after(async () => {
  await closeAll();
  await gw.close();
});

test('MQTT 5.0: [MQTT-3.8.3-3] No Local: a client does not get its own messages', async () => {
  const [c, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: 5, clientId: 'nl' });
  await c.subscribeAsync('nl/t', { qos: 1, nl: true });
  await c.subscribeAsync('nl/marker', { qos: 1 });
  await c.publishAsync('nl/t', 'own', { qos: 1 });
  const other = await connect(gw.mqttUrl, { protocolVersion: 5, clientId: 'nl-other' });
  await other.publishAsync('nl/t', 'other', { qos: 1 });
  await other.publishAsync('nl/marker', 'm', { qos: 1 });
  assert.deepEqual((await inbox.nothingBefore('nl/marker')).map((m) => m.payload), ['other']);
});

test('MQTT 5.0: [MQTT-3.3.1-12] [MQTT-3.3.1-13] Retain As Published keeps the retain flag on live messages', async () => {
  const [c, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: 5, clientId: 'rap' });
  await c.subscribeAsync('rap/kept', { qos: 0, rap: true });
  await c.subscribeAsync('rap/cleared', { qos: 0, rap: false });
  const pub = await connect(gw.mqttUrl, { protocolVersion: 5, clientId: 'rap-pub' });
  await pub.publishAsync('rap/kept', 'k', { retain: true, qos: 1 });
  await pub.publishAsync('rap/cleared', 'c', { retain: true, qos: 1 });
  const got = await inbox.take(2);
  assert.deepEqual(got.map((m) => [m.topic, m.packet.retain]), [['rap/kept', true], ['rap/cleared', false]]);
  await pub.publishAsync('rap/kept', '', { retain: true, qos: 1 });
  await pub.publishAsync('rap/cleared', '', { retain: true, qos: 1 });
});

test('MQTT 5.0: [MQTT-3.3.1-9] [MQTT-3.3.1-10] Retain Handling 0 always, 1 only for a new subscription, 2 never', async () => {
  const pub = await connect(gw.mqttUrl, { protocolVersion: 5, clientId: 'rh-pub' });
  await pub.publishAsync('rh/t', 'kept', { retain: true, qos: 1 });
  const [c, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: 5, clientId: 'rh' });
  await c.subscribeAsync('rh/t', { qos: 0, rh: 2 });
  await c.subscribeAsync('rh/t', { qos: 0, rh: 1 }); // exists already: nothing
  await c.subscribeAsync('rh/t', { qos: 0, rh: 0 }); // always: one
  await c.subscribeAsync('rh/marker', { qos: 0 });
  await pub.publishAsync('rh/marker', 'm', { qos: 1 });
  assert.deepEqual((await inbox.nothingBefore('rh/marker')).map((m) => m.payload), ['kept']);
  await pub.publishAsync('rh/t', '', { retain: true, qos: 1 });
});

test('MQTT 5.0: [MQTT-3.3.4-3] [MQTT-3.3.4-5] subscription identifiers of every matching subscription are sent', async () => {
  const [c, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: 5, clientId: 'subid' });
  await c.subscribeAsync('sid/+', { qos: 1, properties: { subscriptionIdentifier: 7 } });
  await c.subscribeAsync('sid/#', { qos: 1, properties: { subscriptionIdentifier: 300 } });
  await c.subscribeAsync('sid/none', { qos: 1 });
  await c.publishAsync('sid/none', 'x', { qos: 1 });
  const [got] = await inbox.take(1);
  const ids = got?.packet.properties?.subscriptionIdentifier;
  assert.deepEqual((Array.isArray(ids) ? ids : [ids]).sort((a, b) => Number(a) - Number(b)), [7, 300]);
});

test('MQTT 5.0: SUBACK and UNSUBACK reason codes: 0x8F invalid filter, 0x11 no subscription existed', async () => {
  const raw = await RawTcpClient.open(tcpPort(gw), 5);
  raw.socket.write(connectBytes('codes', 5));
  await raw.log.first('connack');
  raw.socket.write(packetBytes({ cmd: 'subscribe', messageId: 5, subscriptions: [{ topic: 'ok/+', qos: 2 }, { topic: 'bad/#/x', qos: 1 }] }, 5));
  assert.deepEqual((await raw.log.first<ISubackPacket>('suback')).granted, [2, 0x8f]);
  raw.socket.write(packetBytes({ cmd: 'unsubscribe', messageId: 6, unsubscriptions: ['ok/+', 'never/subscribed'] }, 5));
  assert.deepEqual((await raw.log.first<IUnsubackPacket>('unsuback')).granted, [0, 0x11]);
  await raw.close();
});
