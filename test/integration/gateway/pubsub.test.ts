import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startMosquitto, MOSQUITTO, type Mosquitto } from '../../helpers/mosquitto.js';
import { requireProgram } from '../../helpers/programs.js';
import { waitEvent } from '../../helpers/wait.js';

const needs = requireProgram(MOSQUITTO, 'mosquitto');
let broker: Mosquitto;
let gw: TestGateway;

before(async () => {
  if (needs.skip) return;
  broker = await startMosquitto();
  gw = await startGateway({ BROKER_URL: broker.url });
});
after(async () => {
  await gw?.close();
  await broker?.stop();
});

async function connect(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ca: gw.ca, ...options });
  await waitEvent(client, 'connect');
  return client;
}

function nextMessage(client: MqttClient): Promise<[string, Buffer, mqtt.IPublishPacket]> {
  return waitEvent(client, 'message') as Promise<[string, Buffer, mqtt.IPublishPacket]>;
}

for (const protocolVersion of [4, 5] as const) {
  for (const via of ['wsUrl', 'wssUrl', 'mqttUrl', 'mqttsUrl'] as const) {
    test(`MQTT ${protocolVersion === 5 ? '5.0' : '3.1.1'} over ${via}: publish and subscribe at QoS 0, 1 and 2`, needs, async () => {
      const sub = await connect(gw[via], { protocolVersion, clientId: `sub-${via}-${protocolVersion}` });
      const pub = await connect(gw[via], { protocolVersion, clientId: `pub-${via}-${protocolVersion}` });
      const topic = `t/${via}/${protocolVersion}`;
      await sub.subscribeAsync(topic, { qos: 2 });
      for (const qos of [0, 1, 2] as const) {
        const received = nextMessage(sub);
        await pub.publishAsync(topic, `hello at ${qos}`, { qos });
        const [gotTopic, payload, packet] = await received;
        assert.equal(gotTopic, topic);
        assert.equal(payload.toString(), `hello at ${qos}`);
        assert.equal(packet.qos, qos);
      }
      await Promise.all([sub.endAsync(), pub.endAsync()]);
    });
  }
}

test('a retained message reaches a later subscriber through the gateway', needs, async () => {
  const pub = await connect(gw.wsUrl);
  await pub.publishAsync('retained/one', 'kept', { qos: 1, retain: true });
  const sub = await connect(gw.wsUrl);
  const received = nextMessage(sub);
  await sub.subscribeAsync('retained/one');
  const [, payload, packet] = await received;
  assert.equal(payload.toString(), 'kept');
  assert.equal(packet.retain, true);
  await pub.publishAsync('retained/one', '', { qos: 1, retain: true });
  await Promise.all([sub.endAsync(), pub.endAsync()]);
});

test('a will message is published when a WebSocket client vanishes', needs, async () => {
  const watcher = await connect(gw.wsUrl);
  await watcher.subscribeAsync('wills/#');
  const doomed = await connect(gw.wsUrl, { will: { topic: 'wills/doomed', payload: Buffer.from('gone'), qos: 1, retain: false } });
  const received = nextMessage(watcher);
  doomed.stream.destroy();
  const [topic, payload] = await received;
  assert.equal(topic, 'wills/doomed');
  assert.equal(payload.toString(), 'gone');
  doomed.end(true);
  await watcher.endAsync();
});

test('1 MiB payloads cross in both directions intact', needs, async () => {
  const a = await connect(gw.wsUrl, { protocolVersion: 5 });
  const b = await connect(gw.mqttUrl);
  await b.subscribeAsync('big/+', { qos: 1 });
  const payload = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
  const received = nextMessage(b);
  await a.publishAsync('big/one', payload, { qos: 1 });
  const [, got] = await received;
  assert.ok(got.equals(payload));
  await Promise.all([a.endAsync(), b.endAsync()]);
});
