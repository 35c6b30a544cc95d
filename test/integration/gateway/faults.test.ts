import { test } from 'node:test';
import type { Socket } from 'node:net';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import mqttPacket, { type IPublishPacket } from 'mqtt-packet';
import { startGateway } from '../../helpers/gateway.js';
import { freePort, startMosquitto, MOSQUITTO, type Mosquitto } from '../../helpers/mosquitto.js';
import { requireProgram } from '../../helpers/programs.js';
import { waitFor, within } from '../../helpers/wait.js';
import { RawWsClient, connectBytes, publishBytes } from '../../helpers/raw-mqtt.js';
import { FakeBackend, startBlackHole } from '../../helpers/fake-backend.js';
import { clientEvent, connectClient as connect, nextMessage } from '../../helpers/mqtt-client.js';

/**
 * What a client sees when the backend broker is missing, slow to answer, or dies, and that the
 * gateway itself survives each case. Bytes already sent in either direction are delivered before
 * the other side is closed.
 */

const needs = requireProgram(MOSQUITTO, 'mosquitto');

/** The WebSocket close codes that mean "the backend failed" (RFC 6455 §7.4.1: internal error, try again later). */
const BACKEND_FAILURE_CODES = [1011, 1013];

/** Subscribes `sub`, publishes from `pub`, and checks the message arrives. */
async function roundTrip(pub: MqttClient, sub: MqttClient, topic: string): Promise<void> {
  await sub.subscribeAsync(topic, { qos: 1 });
  const received = nextMessage(sub);
  await pub.publishAsync(topic, 'still here', { qos: 1 });
  const [gotTopic, payload] = await received;
  assert.equal(gotTopic, topic);
  assert.equal(payload.toString(), 'still here');
}

test('backend refusing connections: each WebSocket client is closed with 1011 or 1013 and released; the gateway serves again once the broker is back', needs, async () => {
  const port = await freePort();
  // Two slots only: refused clients that were never released would lock everyone out afterwards.
  const gw = await startGateway({ BROKER_URL: `mqtt://127.0.0.1:${port}`, MAX_CONNECTIONS: '2' });
  let broker: Mosquitto | undefined;
  const clients: MqttClient[] = [];
  const raws: RawWsClient[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const raw = await RawWsClient.open(gw.wsUrl);
      raws.push(raw);
      raw.send(connectBytes(`refused-${i}`));
      const close = await within(raw.closed, 5000, 'the refused client to be closed');
      assert.ok(BACKEND_FAILURE_CODES.includes(close.code), `close code ${close.code}`);
      assert.equal(raw.log.count('connack'), 0, 'no CONNACK is invented when the backend is down');
    }
    await waitFor(() => gw.gateway.connectionCount === 0, 'the refused connections to be released');

    broker = await startMosquitto({ port });
    const sub = await connect(gw.wsUrl);
    clients.push(sub);
    const pub = await connect(gw.wsUrl);
    clients.push(pub);
    await roundTrip(pub, sub, 'faults/back');
  } finally {
    for (const raw of raws) raw.ws.terminate();
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await gw.close();
    await broker?.stop();
  }
});

test('backend not answering within BROKER_CONNECT_TIMEOUT_MS: the WebSocket client is closed with 1013 after the timeout', async () => {
  const hole = await startBlackHole();
  const connectTimeoutMs = 300;
  const gw = await startGateway({
    BROKER_URL: `mqtt://127.0.0.1:${hole.port}`,
    BROKER_CONNECT_TIMEOUT_MS: String(connectTimeoutMs),
  });
  let raw: RawWsClient | undefined;
  try {
    raw = await RawWsClient.open(gw.wsUrl);
    const sentAt = Date.now();
    raw.send(connectBytes('unanswered'));
    const close = await within(raw.closed, 5000, 'the client to be closed');
    assert.equal(close.code, 1013);
    // Timers may fire a little early by the clock; 50 ms of slack.
    assert.ok(close.at - sentAt >= connectTimeoutMs - 50, `closed after ${close.at - sentAt} ms`);
    assert.equal(raw.log.count('connack'), 0);
    const line = gw.logs.find((l) => l.msg === 'upstream refused the client');
    assert.equal(line?.code, 'ERR_BACKEND_TIMEOUT');
    await waitFor(() => gw.gateway.connectionCount === 0, 'the connection to be released');
  } finally {
    raw?.ws.terminate();
    await gw.close();
    await hole.close();
  }
});

test('backend killed mid-stream: clients see a close, the gateway keeps running, and clients reconnect once the broker is back on the same port', needs, async () => {
  let broker = await startMosquitto();
  const gw = await startGateway({ BROKER_URL: broker.url });
  const clients: MqttClient[] = [];
  let raw: RawWsClient | undefined;
  try {
    // reconnectPeriod: the clients come back on their own, as deployed clients do.
    const options = { reconnectPeriod: 100 };
    const sub = await connect(gw.wsUrl, { ...options, clientId: 'killed-sub' });
    clients.push(sub);
    const pub = await connect(gw.mqttUrl, { ...options, clientId: 'killed-pub' });
    clients.push(pub);
    for (const client of clients) client.on('error', () => {}); // refusals while the broker is down
    await roundTrip(pub, sub, 'faults/killed');

    const closes = clients.map((c) => clientEvent(c, 'close', 5000));
    for (let i = 0; i < 100; i++) pub.publish('faults/killed', `in flight ${i}`);
    await broker.kill();
    await Promise.all(closes);

    // While the broker is down the gateway is alive and says why it cannot serve.
    raw = await RawWsClient.open(gw.wsUrl);
    raw.send(connectBytes('while-down'));
    const close = await within(raw.closed, 5000, 'the client to be refused');
    assert.ok(BACKEND_FAILURE_CODES.includes(close.code), `close code ${close.code}`);

    broker = await startMosquitto({ port: broker.port });
    await Promise.all(clients.map((c) => clientEvent(c, 'connect', 10_000)));
    await roundTrip(pub, sub, 'faults/back-again');
  } finally {
    raw?.ws.terminate();
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await gw.close();
    await broker.stop();
  }
});

test('backend closes after sending: every packet it sent reaches a slow WebSocket client before the close', async () => {
  // 1 MB: more than the gateway holds itself; the rest waits in the loopback buffers meanwhile.
  const count = 1000;
  const payload = Buffer.alloc(1000, 'x');
  const backend = await FakeBackend.start((connection) => {
    void connection.log.first('connect').then(() => {
      const { socket } = connection;
      socket.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }));
      for (let i = 0; i < count; i++) socket.write(publishBytes('faults/last-words', payload));
      socket.end();
    });
  });
  const gw = await startGateway({ BROKER_URL: backend.url });
  let raw: RawWsClient | undefined;
  try {
    raw = await RawWsClient.open(gw.wsUrl);
    raw.send(connectBytes('slow-reader'));
    // The client reads nothing until the backend has sent everything and its end.
    raw.ws.pause();
    const connection = await backend.connection(0);
    await within(connection.finished, 10_000, 'the backend to send everything');
    raw.ws.resume();
    const close = await within(raw.closed, 10_000, 'the WebSocket to close');
    assert.equal(close.code, 1000, 'the backend ended cleanly');
    const publishes = raw.log.packets.slice(0, close.packetsBefore).filter((p): p is IPublishPacket => p.cmd === 'publish');
    assert.equal(publishes.length, count);
    assert.ok(publishes.every((p) => Buffer.from(p.payload).equals(payload)));
    await waitFor(() => gw.gateway.connectionCount === 0, 'the connection to be released');
  } finally {
    raw?.ws.terminate();
    await gw.close();
    await backend.close();
  }
});

test('client closes right after sending: every packet it sent reaches the backend before the backend connection ends', async () => {
  const count = 1000;
  const payload = Buffer.alloc(1000, 'y');
  // The backend answers CONNECT, then reads nothing until the client has sent everything and its close.
  const backend = await FakeBackend.start((connection) => {
    void connection.log.first('connect').then(() => {
      connection.socket.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }));
      connection.socket.pause();
    });
  });
  const gw = await startGateway({ BROKER_URL: backend.url });
  let raw: RawWsClient | undefined;
  try {
    raw = await RawWsClient.open(gw.wsUrl);
    raw.send(connectBytes('fast-writer'));
    const connection = await backend.connection(0);
    await connection.log.first('connect');
    for (let i = 0; i < count; i++) raw.send(publishBytes('faults/parting', payload));
    raw.ws.close(1000);
    // Everything, close frame included, has left the client.
    const { ws } = raw;
    const clientSocket = (ws as unknown as { _socket: Socket })._socket;
    await waitFor(() => ws.bufferedAmount === 0 && clientSocket.writableLength === 0, 'the client to flush', 10_000);
    connection.socket.resume();
    const ended = await within(connection.ended, 10_000, 'the backend connection to end');
    assert.equal(ended.packets, 1 + count, 'CONNECT and every PUBLISH arrived before the end');
    assert.equal(connection.log.count('publish'), count);
    await within(raw.closed, 5000, 'the client close to complete');
    await waitFor(() => gw.gateway.connectionCount === 0, 'the connection to be released');
  } finally {
    raw?.ws.terminate();
    await gw.close();
    await backend.close();
  }
});
