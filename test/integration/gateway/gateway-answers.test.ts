import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket, { type IPublishPacket, type ISubackPacket } from 'mqtt-packet';
import { startGateway } from '../../helpers/gateway.js';
import { FakeBackend, type BackendConnection } from '../../helpers/fake-backend.js';
import { tcpFrom } from '../../helpers/edge-clients.js';
import { subscribeBytes, publishBytes } from '../../helpers/raw-mqtt.js';
import { makeTokenKeys, token } from '../../helpers/tokens.js';
import { waitFor } from '../../helpers/wait.js';

// The gateway answers a restricted client itself (here a refused SUBSCRIBE) in the same byte stream
// as the broker's packets, which reach it in chunks that need not end at packet boundaries. Its
// answer must fall between the broker's packets, or the client's stream is corrupt.
test('an answer from the gateway waits for a boundary between the broker\'s packets', async (t) => {
  const keys = await makeTokenKeys();
  let backendConnection: BackendConnection | undefined;
  const backend = await FakeBackend.start((connection) => (backendConnection = connection));
  const gw = await startGateway({ BROKER_URL: backend.url, AUTH_MODE: 'jwt', JWT_SECRET: keys.secret, HTTPS_PORT: '', MQTTS_PORT: '' });
  t.after(async () => {
    await gw.close();
    await backend.close();
  });
  const client = await tcpFrom(gw.ports.mqtt as number);
  t.after(() => client.close());
  const password = await token(keys, { claims: { mqtt_sub: ['allowed/#'] } });
  client.socket.write(
    mqttPacket.generate({ cmd: 'connect', clientId: 'restricted', protocolVersion: 4, clean: true, keepalive: 60, username: 'u', password: Buffer.from(password) }),
  );
  const upstream = await waitFor(() => backendConnection, 'the backend connection');
  await waitFor(() => upstream.log.count('connect') === 1, 'the forwarded CONNECT');

  const message = publishBytes('allowed/news', Buffer.alloc(1000, 0x61));
  upstream.socket.write(Buffer.concat([Buffer.from([0x20, 0x02, 0x00, 0x00]), message.subarray(0, 100)])); // CONNACK + part of a PUBLISH
  await waitFor(() => client.log.count('connack') === 1, 'the CONNACK');
  client.socket.write(subscribeBytes('forbidden/topic')); // refused by the gateway, answered by it
  await waitFor(() => gw.logs.some((l) => l.msg === 'subscribe refused'), 'the refusal');
  upstream.socket.write(message.subarray(100)); // the rest of the PUBLISH

  const suback = await client.log.first<ISubackPacket>('suback');
  const publish = await client.log.first<IPublishPacket>('publish');
  assert.equal(client.log.error, undefined, 'the client stream is valid MQTT');
  assert.deepEqual(suback.granted, [0x80]);
  assert.equal(Buffer.from(publish.payload).length, 1000);
  assert.deepEqual(client.log.packets.map((p) => p.cmd), ['connack', 'publish', 'suback'], 'the answer came after the whole PUBLISH');
  assert.equal(upstream.log.count('subscribe'), 0, 'the refused SUBSCRIBE never reached the broker');
});
