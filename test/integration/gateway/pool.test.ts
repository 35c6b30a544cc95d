import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startMosquitto, MOSQUITTO, type Mosquitto } from '../../helpers/mosquitto.js';
import { requireProgram } from '../../helpers/programs.js';
import { logLines } from '../../helpers/edge-clients.js';
import { RawWsClient } from '../../helpers/raw-mqtt.js';
import { waitEvent, waitFor, within } from '../../helpers/wait.js';
import { rendezvousOrder } from '../../../src/upstream/pool.js';

/**
 * A pool of three real Mosquitto brokers behind one gateway: each client id lands on the node
 * rendezvous hashing ranks first; killing a node moves only its clients; when it is back, its
 * clients return on their next connect. Where a client landed is seen on the brokers themselves:
 * a watcher connected directly to each broker sees the client's publish on `where/<id>`.
 */

const needs = requireProgram(MOSQUITTO, 'mosquitto');
const brokers: (Mosquitto | undefined)[] = [];
const watchers: (MqttClient | undefined)[] = [];
let gw: TestGateway;
const ids = Array.from({ length: 12 }, (_, i) => `pooled-${i}`);
const options: IClientOptions = { reconnectPeriod: 0, connectTimeout: 5000 };

before(async () => {
  if (needs.skip) return;
  for (let i = 0; i < 3; i++) brokers.push(await startMosquitto());
  for (let i = 0; i < 3; i++) watchers.push(await watch(i));
  gw = await startGateway({
    BROKER_URL: brokers.map((b) => (b as Mosquitto).url).join(','),
    BROKER_HEALTH_INTERVAL_MS: '100',
    BROKER_CONNECT_TIMEOUT_MS: '2000',
  });
});
after(async () => {
  await gw?.close();
  await Promise.all(watchers.map((w) => w?.endAsync()));
  await Promise.all(brokers.map((b) => b?.stop()));
});

async function connect(url: string, extra: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(url, { ...options, ...extra });
  client.on('error', () => {});
  await waitEvent(client as never, 'connect');
  return client;
}

async function watch(index: number): Promise<MqttClient> {
  const watcher = await connect((brokers[index] as Mosquitto).url, { clientId: `watcher-${index}` });
  await watcher.subscribeAsync('where/+', { qos: 1 });
  return watcher;
}

const nodeName = (index: number) => `mqtt://127.0.0.1:${(brokers[index] as Mosquitto).port}`;

/** The broker index the hash ranks first for `id` among `up`. */
function expected(id: string, up: number[]): number {
  return rendezvousOrder(id, up, nodeName)[0] as number;
}

/** Connects `id` through the gateway and returns the index of the broker that saw its publish. */
async function landing(id: string): Promise<number> {
  const seen = watchers.map((watcher, index) =>
    watcher
      ? new Promise<number>((resolve) => {
          const onMessage = (topic: string) => {
            if (topic !== `where/${id}`) return;
            watcher.off('message', onMessage);
            resolve(index);
          };
          watcher.on('message', onMessage);
        })
      : new Promise<number>(() => {}),
  );
  const client = await connect(gw.mqttUrl, { clientId: id });
  try {
    await client.publishAsync(`where/${id}`, 'here', { qos: 1 });
    return await within(Promise.race(seen), 5000, `a watcher to see ${id}`);
  } finally {
    await client.endAsync();
  }
}

async function landings(): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  for (const id of ids) result.set(id, await landing(id));
  return result;
}

test('each client id lands on the node the hash ranks first, every time', needs, async () => {
  const first = await landings();
  for (const id of ids) assert.equal(first.get(id), expected(id, [0, 1, 2]), id);
  assert.ok(new Set(first.values()).size >= 2, 'the ids spread over more than one node');
  const second = await landings();
  assert.deepEqual(second, first);
  assert.ok(logLines(gw.logs, 'backend chosen', { clientId: ids[0] }).every((l) => l.backend === nodeName(first.get(ids[0] as string) as number)));
});

test('a persistent session is found again: the same node answers with session present', needs, async () => {
  const id = 'pooled-persistent';
  const one = await connect(gw.mqttUrl, { clientId: id, clean: false, protocolVersion: 4 });
  await one.subscribeAsync('persist/x', { qos: 1 });
  await one.endAsync();
  const two = mqtt.connect(gw.mqttUrl, { ...options, clientId: id, clean: false, protocolVersion: 4 });
  const [connack] = await waitEvent<[{ sessionPresent: boolean }]>(two as never, 'connect');
  assert.equal(connack.sessionPresent, true);
  await two.endAsync();
});

test('killing a node moves only its clients (to their second choice); its return takes them back', needs, async () => {
  const before = await landings();
  // The node with the most clients goes away.
  const counts = [0, 1, 2].map((i) => [...before.values()].filter((n) => n === i).length);
  const victim = counts.indexOf(Math.max(...counts));
  const port = (brokers[victim] as Mosquitto).port;
  watchers[victim]?.end(true);
  watchers[victim] = undefined;
  await brokers[victim]?.kill();
  brokers[victim] = undefined;

  const up = [0, 1, 2].filter((i) => i !== victim);
  const during = await landings();
  for (const id of ids) {
    if (before.get(id) === victim) assert.equal(during.get(id), expected(id, up), `${id} moves to its second choice`);
    else assert.equal(during.get(id), before.get(id), `${id} stays`);
  }
  await waitFor(() => logLines(gw.logs, 'backend down', { backend: `mqtt://127.0.0.1:${port}` }).length > 0, 'the node to be marked down');

  brokers[victim] = await startMosquitto({ port });
  watchers[victim] = await watch(victim);
  await waitFor(() => logLines(gw.logs, 'backend up', { backend: `mqtt://127.0.0.1:${port}` }).length > 0, 'the node to be back in the pool');
  const after = await landings();
  assert.deepEqual(after, before);
});

test('/readyz stays ready while one node of the pool is up', needs, async () => {
  const response = await fetch(`${gw.httpUrl}/readyz`);
  assert.equal(response.status, 200);
});

test('drain through a pool: an MQTT 5 WebSocket client gets DISCONNECT 0x8B, then the close 1001', needs, async () => {
  const up = brokers.filter((b): b is Mosquitto => b !== undefined);
  const draining = await startGateway({ BROKER_URL: up.map((b) => b.url).join(',') });
  let closed = false;
  try {
    const client = await RawWsClient.open(draining.wsUrl, { protocolVersion: 5 });
    assert.equal((await client.connect('drain-5', 5)).reasonCode, 0);
    const closing = draining.close();
    closed = true;
    const close = await within(client.closed, 5000, 'the close');
    await closing;
    assert.equal(close.code, 1001);
    const disconnect = client.log.packets.find((p) => p.cmd === 'disconnect') as { reasonCode?: number } | undefined;
    assert.equal(disconnect?.reasonCode, 0x8b);
  } finally {
    if (!closed) await draining.close();
  }
});
