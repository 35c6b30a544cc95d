import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startMosquitto, MOSQUITTO, type Mosquitto } from '../../helpers/mosquitto.js';
import { requireProgram } from '../../helpers/programs.js';
import { RawClient, connectPacket, encode, upgradeStatus } from '../../helpers/raw-ws.js';
import { waitFor, within } from '../../helpers/wait.js';

const needs = requireProgram(MOSQUITTO, 'mosquitto');
let broker: Mosquitto;
let gw: TestGateway;

before(async () => {
  if (needs.skip) return;
  broker = await startMosquitto();
  gw = await startGateway({ BROKER_URL: broker.url, MAX_PACKET_SIZE: '65536', CONNECT_TIMEOUT_MS: '300' });
});
after(async () => {
  await gw?.close();
  await broker?.stop();
});

const publish = (topic: string, i: number): Buffer =>
  encode({ cmd: 'publish', topic, payload: Buffer.from(`m${i}`), qos: 0, retain: false, dup: false });

async function subscribed(clientId: string, topic: string): Promise<RawClient> {
  const client = await RawClient.open(gw.wsUrl);
  client.send(connectPacket(clientId));
  await client.next('connack');
  client.send(encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] }));
  await client.next('suback');
  return client;
}

test('hundreds of packets in one WebSocket frame all arrive [MQTT-6.0.0-2]', needs, async () => {
  const sub = await subscribed('many-sub', 'many/t');
  const pub = await RawClient.open(gw.wsUrl);
  const frame = Buffer.concat([connectPacket('many-pub'), ...Array.from({ length: 500 }, (_, i) => publish('many/t', i))]);
  pub.send(frame);
  await waitFor(() => sub.packets.filter((p) => p.cmd === 'publish').length === 500, '500 messages');
  const payloads = sub.packets.filter((p) => p.cmd === 'publish').map((p) => (p as mqttPacket.IPublishPacket).payload.toString());
  assert.deepEqual(payloads, Array.from({ length: 500 }, (_, i) => `m${i}`));
  sub.ws.close();
  pub.ws.close();
});

test('one packet split across many WebSocket frames arrives whole [MQTT-6.0.0-2]', needs, async () => {
  const sub = await subscribed('split-sub', 'split/t');
  const pub = await RawClient.open(gw.wsUrl);
  const payload = Buffer.alloc(10_000, 0x5a);
  const bytes = Buffer.concat([
    connectPacket('split-pub'),
    encode({ cmd: 'publish', topic: 'split/t', payload, qos: 0, retain: false, dup: false }),
  ]);
  for (let offset = 0; offset < bytes.length; offset += 7) pub.send(bytes.subarray(offset, offset + 7));
  const message = (await sub.next('publish')) as mqttPacket.IPublishPacket;
  assert.ok(Buffer.from(message.payload).equals(payload));
  sub.ws.close();
  pub.ws.close();
});

test('a text frame closes the connection with 1003 [MQTT-6.0.0-1]', needs, async () => {
  const client = await RawClient.open(gw.wsUrl);
  client.send(connectPacket('text'));
  await client.next('connack');
  client.ws.send('not mqtt');
  assert.equal((await within(client.closed, 5000, 'close')).code, 1003);
});

test('a packet above MAX_PACKET_SIZE is refused with 1009 before it is buffered', needs, async () => {
  const client = await RawClient.open(gw.wsUrl);
  client.send(connectPacket('big'));
  await client.next('connack');
  // Only the fixed header of a 100 kB PUBLISH: the declared size alone must be refused.
  const header = encode({ cmd: 'publish', topic: 't', payload: Buffer.alloc(100_000), qos: 0, retain: false, dup: false }).subarray(0, 8);
  client.send(header);
  assert.equal((await within(client.closed, 5000, 'close')).code, 1009);
});

test('a WebSocket frame above the limit is refused with 1009', needs, async () => {
  const client = await RawClient.open(gw.wsUrl);
  client.send(Buffer.alloc(70_000));
  assert.equal((await within(client.closed, 5000, 'close')).code, 1009);
});

test('a first packet that is not CONNECT closes with 1002 [MQTT-3.1.0-1]', needs, async () => {
  const client = await RawClient.open(gw.wsUrl);
  client.send(encode({ cmd: 'pingreq' }));
  assert.equal((await within(client.closed, 5000, 'close')).code, 1002);
});

test('no CONNECT within CONNECT_TIMEOUT_MS closes the connection', needs, async () => {
  const client = await RawClient.open(gw.wsUrl);
  assert.equal((await within(client.closed, 5000, 'close')).code, 1008);
});

test('the upgrade answers 404 on another path', needs, async () => {
  assert.equal(await upgradeStatus(`${gw.httpUrl}/other`, { 'Sec-WebSocket-Protocol': 'mqtt' }), 404);
});

test('subprotocols: mqtt and mqttv3.1 accepted, a comma list answered with one offered, others refused', needs, async () => {
  const chosen = async (protocols: string | string[]): Promise<string> => {
    const client = await RawClient.open(gw.wsUrl, { protocols });
    client.ws.close();
    return client.ws.protocol;
  };
  assert.equal(await chosen('mqtt'), 'mqtt');
  assert.equal(await chosen('mqttv3.1'), 'mqttv3.1');
  assert.equal(await chosen(['chat', 'mqtt']), 'mqtt');
  assert.equal(await upgradeStatus(gw.wsUrl, { 'Sec-WebSocket-Protocol': 'chat, mqttv3.1' }), 101);
  assert.equal(await upgradeStatus(gw.wsUrl, { 'Sec-WebSocket-Protocol': 'chat' }), 400);
  assert.equal(await upgradeStatus(gw.wsUrl), 101, 'a client that offers none is accepted by default');
});

test('REQUIRE_SUBPROTOCOL refuses a client that offers none', needs, async () => {
  const strict = await startGateway({ BROKER_URL: broker.url, REQUIRE_SUBPROTOCOL: 'true' });
  try {
    assert.equal(await upgradeStatus(strict.wsUrl), 400);
    assert.equal(await upgradeStatus(strict.wsUrl, { 'Sec-WebSocket-Protocol': 'mqtt' }), 101);
  } finally {
    await strict.close();
  }
});

test('Origin allow-list: 403 for others, 101 for allowed', needs, async () => {
  const guarded = await startGateway({ BROKER_URL: broker.url, ALLOWED_ORIGINS: 'https://app.example' });
  try {
    assert.equal(await upgradeStatus(guarded.wsUrl, { Origin: 'https://evil.example' }), 403);
    assert.equal(await upgradeStatus(guarded.wsUrl, { Origin: 'https://app.example' }), 101);
  } finally {
    await guarded.close();
  }
});

test('connection limit: 503 once MAX_CONNECTIONS clients are connected', needs, async () => {
  const small = await startGateway({ BROKER_URL: broker.url, MAX_CONNECTIONS: '2' });
  try {
    const a = await RawClient.open(small.wsUrl);
    const b = await RawClient.open(small.wsUrl);
    assert.equal(await upgradeStatus(small.wsUrl), 503);
    a.ws.close();
    b.ws.close();
    await Promise.all([a.closed, b.closed]);
    await waitFor(() => small.gateway.connectionCount === 0, 'connections to close');
    assert.equal(await upgradeStatus(small.wsUrl), 101);
  } finally {
    await small.close();
  }
});

test('oversized request headers: 431', needs, async () => {
  assert.equal(await upgradeStatus(gw.wsUrl, { 'X-Big': 'x'.repeat(20_000) }), 431);
});
