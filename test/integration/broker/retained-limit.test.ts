import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { IPubackPacket } from 'mqtt-packet';
import { RawTcpClient, connectBytes, packetBytes } from '../../helpers/raw-mqtt.js';
import { waitFor } from '../../helpers/wait.js';
import { closeAll, connect, connectWithInbox, startBrokerWith, tcpPort, type BrokerGateway, type Version } from './helpers.js';

/**
 * maxRetainedMessages: past it a new retained topic is not stored; replacing or deleting a stored
 * one still works, and one warning says the store is full. An MQTT 5 publisher of QoS 1/2 is told
 * with 0x97 Quota exceeded, and as a failure code means the PUBLISH failed, the message is then not
 * routed either. Where nothing can be told (QoS 0, MQTT 3.1.1) it still reaches live subscribers.
 */

const LIMIT = 2;
const WARNING = 'retained message limit reached: new retained topics are not stored';

let gw: BrokerGateway;
beforeEach(async () => (gw = await startBrokerWith({ maxRetainedMessages: LIMIT })));
afterEach(async () => {
  await closeAll();
  await gw.close();
});

const warnings = () => gw.brokerLogs.filter((l) => l.msg === WARNING);

async function rawClient(id: string, version: Version): Promise<RawTcpClient> {
  const raw = await RawTcpClient.open(tcpPort(gw), version);
  raw.socket.write(connectBytes(id, version));
  await raw.log.first('connack');
  return raw;
}

/** Publishes retained QoS 1 from a raw client and resolves with the PUBACK. */
async function publishRetained(raw: RawTcpClient, version: Version, topic: string, payload: string, messageId: number): Promise<IPubackPacket> {
  raw.socket.write(packetBytes({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, messageId, retain: true, dup: false }, version));
  return waitFor(
    () => raw.log.packets.find((p): p is IPubackPacket => p.cmd === 'puback' && p.messageId === messageId),
    `the PUBACK for ${topic}`,
  );
}

/** What a new subscriber to `ret/#` is sent as retained, by topic. */
async function retainedNow(id: string): Promise<Record<string, string>> {
  const [client, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: 5, clientId: id });
  await client.subscribeAsync('ret/#');
  await client.subscribeAsync('marker');
  await client.publishAsync('marker', 'm');
  const got = await inbox.nothingBefore('marker');
  await client.endAsync();
  return Object.fromEntries(got.map((m) => [m.topic, m.payload]));
}

test('MQTT 5.0: past maxRetainedMessages a new retained topic gets PUBACK 0x97 and is neither stored nor routed', async () => {
  const [watcher, live] = await connectWithInbox(gw.mqttUrl, { protocolVersion: 5, clientId: 'ret-watch' });
  await watcher.subscribeAsync(['ret/#', 'marker']);
  const raw = await rawClient('ret-pub-5', 5);
  assert.equal((await publishRetained(raw, 5, 'ret/a', 'a1', 1)).reasonCode, 0);
  assert.equal((await publishRetained(raw, 5, 'ret/b', 'b1', 2)).reasonCode, 0);
  assert.equal((await publishRetained(raw, 5, 'ret/c', 'c1', 3)).reasonCode, 0x97);
  await watcher.publishAsync('marker', 'm');
  assert.deepEqual((await live.nothingBefore('marker')).map((m) => m.payload), ['a1', 'b1']);
  assert.deepEqual(await retainedNow('ret-check-1'), { 'ret/a': 'a1', 'ret/b': 'b1' });
  assert.equal(warnings().length, 1);
  await raw.close();
});

test('MQTT 5.0: with the store full, replacing and deleting still work, and a deletion makes room', async () => {
  const raw = await rawClient('ret-pub-5', 5);
  await publishRetained(raw, 5, 'ret/a', 'a1', 1);
  await publishRetained(raw, 5, 'ret/b', 'b1', 2);
  // [MQTT-3.3.1-5] replaces; these have no subscriber, hence 0x10.
  assert.equal((await publishRetained(raw, 5, 'ret/a', 'a2', 3)).reasonCode, 0x10);
  // [MQTT-3.3.1-10] an empty payload deletes.
  assert.equal((await publishRetained(raw, 5, 'ret/b', '', 4)).reasonCode, 0x10);
  assert.equal((await publishRetained(raw, 5, 'ret/c', 'c1', 5)).reasonCode, 0x10);
  assert.equal((await publishRetained(raw, 5, 'ret/d', 'd1', 6)).reasonCode, 0x97);
  assert.deepEqual(await retainedNow('ret-check-2'), { 'ret/a': 'a2', 'ret/c': 'c1' });
  assert.equal(warnings().length, 1);
  await raw.close();
});

test('MQTT 3.1.1 and MQTT 5.0 QoS 0: past the limit a new retained topic still reaches live subscribers, unretained; one warning', async () => {
  const [watcher, live] = await connectWithInbox(gw.mqttUrl, { protocolVersion: 5, clientId: 'ret-watch' });
  await watcher.subscribeAsync(['ret/#', 'marker']);
  const filler = await connect(gw.mqttUrl, { protocolVersion: 5, clientId: 'ret-filler' });
  await filler.publishAsync('ret/a', 'a1', { qos: 1, retain: true });
  await filler.publishAsync('ret/b', 'b1', { qos: 1, retain: true });
  const raw4 = await rawClient('ret-pub-4', 4);
  // 3.1.1 has no code to say it: a plain PUBACK.
  const ack = await publishRetained(raw4, 4, 'ret/c', 'c1', 1);
  assert.equal(ack.reasonCode, undefined);
  await filler.publishAsync('ret/d', 'd1', { qos: 0, retain: true });
  await watcher.publishAsync('marker', 'm');
  assert.deepEqual((await live.nothingBefore('marker')).map((m) => m.payload), ['a1', 'b1', 'c1', 'd1']);
  assert.deepEqual(await retainedNow('ret-check-3'), { 'ret/a': 'a1', 'ret/b': 'b1' });
  assert.equal(warnings().length, 1);
  assert.equal(gw.brokerLogs.filter((l) => l.msg === 'retained message not stored: the store is full').length, 1);
  await raw4.close();
});
