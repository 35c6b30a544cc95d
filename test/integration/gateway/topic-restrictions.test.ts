import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import mqttPacket, { type IPubackPacket, type Packet } from 'mqtt-packet';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startMosquitto, MOSQUITTO, type Mosquitto } from '../../helpers/mosquitto.js';
import { requireProgram } from '../../helpers/programs.js';
import { tcpFrom, logLines } from '../../helpers/edge-clients.js';
import { makeTokenKeys, token, type TokenKeys } from '../../helpers/tokens.js';
import { waitEvent, waitFor, within } from '../../helpers/wait.js';

/**
 * Topic restrictions from token claims (mqtt_pub, mqtt_sub), enforced by the gateway in front of
 * a real Mosquitto that allows everything. A refused SUBSCRIBE gets a failing SUBACK (0x80 in
 * 3.1.1, 0x87 in 5.0); a refused PUBLISH gets PUBACK/PUBREC 0x87 in 5.0 and closes a 3.1.1 client.
 * A watcher connected to Mosquitto directly shows what got through.
 */

const needs = requireProgram(MOSQUITTO, 'mosquitto');
let broker: Mosquitto;
let gw: TestGateway;
let keys: TokenKeys;
let watcher: MqttClient;
const seen: string[] = [];
const clients: MqttClient[] = [];
const claims = { mqtt_pub: ['devices/alice/#'], mqtt_sub: ['devices/alice/#', 'public/+'] };

before(async () => {
  if (needs.skip) return;
  keys = await makeTokenKeys();
  broker = await startMosquitto();
  gw = await startGateway({ BROKER_URL: broker.url, AUTH_MODE: 'jwt', JWT_SECRET: keys.secret });
  watcher = await connect(broker.url, { clientId: 'watcher' });
  await watcher.subscribeAsync('#', { qos: 1 });
  watcher.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
});
after(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true)));
  await watcher?.endAsync();
  await gw?.close();
  await broker?.stop();
});

async function connect(url: string, options: IClientOptions): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  client.on('error', () => {});
  clients.push(client);
  await waitEvent(client as never, 'connect');
  return client;
}

async function restricted(protocolVersion: 4 | 5, clientId: string): Promise<MqttClient> {
  return connect(gw.wsUrl, { protocolVersion, clientId, username: 'u', password: await token(keys, { claims }) });
}

/** Publishes a marker through the watcher's own path and waits for it, so everything before it has been seen. */
async function settled(): Promise<void> {
  const marker = `marker-${seen.length}-${Date.now()}`;
  await watcher.publishAsync('markers', marker, { qos: 1 });
  await waitFor(() => seen.includes(`markers ${marker}`), 'the marker');
}

/** MQTT.js rejects a SUBSCRIBE whose SUBACK has failures; the codes are in the packet it carries. */
async function refusedCodes(subscribing: Promise<unknown>): Promise<number[]> {
  try {
    await subscribing;
  } catch (err) {
    return (err as { packet: { granted: number[] } }).packet.granted;
  }
  throw new Error('the subscription was granted');
}

for (const protocolVersion of [4, 5] as const) {
  const name = protocolVersion === 5 ? '5.0' : '3.1.1';
  const failure = protocolVersion === 5 ? 0x87 : 0x80;

  test(`MQTT ${name}: allowed subscriptions are granted; refused ones get SUBACK 0x${failure.toString(16)}; a mixed SUBSCRIBE is refused whole`, needs, async () => {
    const client = await restricted(protocolVersion, `sub-${protocolVersion}`);
    const allowed = await client.subscribeAsync(['devices/alice/+', 'public/news'], { qos: 1 });
    assert.deepEqual(allowed.map((g) => g.qos), [1, 1]);
    assert.deepEqual(await refusedCodes(client.subscribeAsync('devices/bob/#', { qos: 1 })), [failure]);
    const mixed = client.subscribeAsync(['public/weather', 'secret/plans', '$share/g/devices/alice/x'], { qos: 0 });
    assert.deepEqual(await refusedCodes(mixed), [failure, failure, failure]);
    // The allowed subscription works end to end.
    const received = waitEvent<[string, Buffer]>(client as never, 'message');
    await watcher.publishAsync('public/news', 'extra', { qos: 1 });
    assert.equal((await received)[0], 'public/news');
    assert.ok(logLines(gw.logs, 'subscribe refused', { clientId: `sub-${protocolVersion}` }).length >= 2);
  });
}

test('MQTT 3.1.1: an allowed publish goes through; a refused one closes the client and never reaches the broker', needs, async () => {
  const client = await restricted(4, 'pub-4');
  await client.publishAsync('devices/alice/temp', '21', { qos: 1 });
  const closed = waitEvent(client as never, 'close');
  client.publish('devices/bob/temp', 'spoofed', { qos: 1 });
  await within(closed, 5000, 'the client to be closed');
  await settled();
  assert.ok(seen.includes('devices/alice/temp 21'));
  assert.ok(!seen.some((line) => line.startsWith('devices/bob/')));
  assert.equal(logLines(gw.logs, 'closing client', { clientId: 'pub-4', reason: 'not authorized' }).length, 1);
});

test('MQTT 5.0: refused publishes get PUBACK / PUBREC 0x87 (QoS 0: dropped) and the client stays connected', needs, async () => {
  const client = await restricted(5, 'pub-5');
  await assert.rejects(client.publishAsync('devices/bob/a', 'q1', { qos: 1 }), (err: { code?: number }) => err.code === 0x87);
  await assert.rejects(client.publishAsync('devices/bob/b', 'q2', { qos: 2 }), (err: { code?: number }) => err.code === 0x87);
  await client.publishAsync('devices/bob/c', 'q0', { qos: 0 });
  await client.publishAsync('devices/alice/ok', 'fine', { qos: 2 });
  await settled();
  assert.ok(seen.includes('devices/alice/ok fine'));
  assert.ok(!seen.some((line) => line.startsWith('devices/bob/')));
  assert.equal(client.connected, true);
});

test('MQTT 5.0 raw: topic aliases are followed, and the gateway answers only after the CONNACK', needs, async () => {
  const peer = await tcpFrom(gw.ports.mqtt as number, '127.0.0.1', 5);
  try {
    const publish = (messageId: number, topic: string, topicAlias: number) =>
      mqttPacket.generate(
        { cmd: 'publish', topic, payload: Buffer.from(`m${messageId}`), qos: 1, messageId, retain: false, dup: false, properties: { topicAlias } },
        { protocolVersion: 5 },
      );
    const connect = mqttPacket.generate(
      { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'alias-5', clean: true, keepalive: 30, username: 'u', password: Buffer.from(await token(keys, { claims })) },
      { protocolVersion: 5 },
    );
    // CONNECT and a refused PUBLISH in one write: the gateway's PUBACK must still follow the broker's CONNACK.
    peer.socket.write(Buffer.concat([connect, publish(1, 'devices/bob/x', 2)]));
    peer.socket.write(Buffer.concat([publish(2, 'devices/alice/a', 1), publish(3, '', 1), publish(4, '', 2), publish(5, 'devices/alice/b', 2), publish(6, '', 2)]));
    await waitFor(() => peer.log.count('puback') === 6, 'six PUBACKs');
    const packets = peer.log.packets as Packet[];
    assert.equal(packets[0]?.cmd, 'connack');
    const codes = new Map(packets.filter((p): p is IPubackPacket => p.cmd === 'puback').map((p) => [p.messageId, p.reasonCode ?? 0]));
    assert.deepEqual(Object.fromEntries(codes), { 1: 0x87, 2: 0, 3: 0, 4: 0x87, 5: 0, 6: 0 });
    await settled();
    for (const expected of ['devices/alice/a m2', 'devices/alice/a m3', 'devices/alice/b m5', 'devices/alice/b m6']) assert.ok(seen.includes(expected), expected);
    assert.ok(!seen.some((line) => line.startsWith('devices/bob/')));
  } finally {
    await peer.close();
  }
});
