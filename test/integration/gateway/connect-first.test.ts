import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { FakeBackend } from '../../helpers/fake-backend.js';
import { RawTcpClient, RawWsClient, connectBytes, packetBytes, publishBytes } from '../../helpers/raw-mqtt.js';
import { waitFor, within } from '../../helpers/wait.js';

/**
 * The edge rules before any backend is involved: the first packet must be CONNECT
 * [MQTT-3.1.0-1], and it must come within CONNECT_TIMEOUT_MS. A client that breaks either is
 * dropped, and the backend never hears of it.
 */

const connectTimeoutMs = 300;
/** A backend that records connections and answers nothing: no client here should reach it. */
let backend: FakeBackend;
/** CONNECT_TIMEOUT_MS short, to see the timeout. */
let quick: TestGateway;
/** CONNECT_TIMEOUT_MS long, so that a prompt close can only come from the first-packet rule. */
let patient: TestGateway;

before(async () => {
  backend = await FakeBackend.start();
  quick = await startGateway({ BROKER_URL: backend.url, CONNECT_TIMEOUT_MS: String(connectTimeoutMs) });
  patient = await startGateway({ BROKER_URL: backend.url, CONNECT_TIMEOUT_MS: '60000' });
});
after(async () => {
  await quick?.close();
  await patient?.close();
  await backend?.close();
});

async function released(gw: TestGateway): Promise<void> {
  await waitFor(() => gw.gateway.connectionCount === 0, 'the gateway to release the connection');
}

/** Timers may fire a little early by the wall clock: 50 ms of slack. */
function assertAfterTimeout(elapsedMs: number): void {
  assert.ok(elapsedMs >= connectTimeoutMs - 50, `closed after ${elapsedMs} ms, before the ${connectTimeoutMs} ms timeout`);
}

const silentCases = [
  { name: 'sends nothing', bytes: Buffer.alloc(0) },
  // The first 5 bytes of a CONNECT: a packet begun is not a CONNECT received.
  { name: 'sends half a CONNECT', bytes: connectBytes('half').subarray(0, 5) },
];

for (const { name, bytes } of silentCases) {
  test(`raw TCP: a client that ${name} is dropped after CONNECT_TIMEOUT_MS`, async () => {
    const client = await RawTcpClient.open(quick.ports.mqtt as number);
    try {
      const openedAt = Date.now();
      if (bytes.length > 0) client.socket.write(bytes);
      const { at } = await within(client.closed, 5000, 'the gateway to drop the client');
      assertAfterTimeout(at - openedAt);
      assert.equal(client.bytesReceived, 0);
      assert.equal(backend.connections.length, 0);
      await released(quick);
    } finally {
      client.socket.destroy();
    }
  });

  test(`WebSocket: a client that ${name} is closed with 1008 after CONNECT_TIMEOUT_MS`, async () => {
    const client = await RawWsClient.open(quick.wsUrl);
    try {
      const openedAt = Date.now();
      if (bytes.length > 0) client.send(bytes);
      const close = await within(client.closed, 5000, 'the gateway to close the client');
      assert.equal(close.code, 1008);
      assertAfterTimeout(close.at - openedAt);
      assert.equal(close.packetsBefore, 0);
      assert.equal(backend.connections.length, 0);
      await released(quick);
    } finally {
      client.ws.terminate();
    }
  });
}

const notConnect = [
  { name: 'PINGREQ', bytes: packetBytes({ cmd: 'pingreq' }) },
  { name: 'PUBLISH', bytes: publishBytes('a/b', 'sneaky') },
  // A CONNECT right behind the offending packet, in the same chunk, must not open a session either.
  { name: 'SUBSCRIBE followed by a CONNECT', bytes: Buffer.concat([packetBytes({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 0 }] }), connectBytes('late')]) },
];

for (const { name, bytes } of notConnect) {
  test(`raw TCP: a first packet that is ${name}, not CONNECT, drops the connection [MQTT-3.1.0-1]`, async () => {
    const client = await RawTcpClient.open(patient.ports.mqtt as number);
    try {
      client.socket.write(bytes);
      await within(client.closed, 5000, 'the gateway to drop the client');
      assert.equal(client.bytesReceived, 0, 'nothing is answered');
      await released(patient);
      assert.equal(backend.connections.length, 0, 'the backend never saw the client');
    } finally {
      client.socket.destroy();
    }
  });

  test(`WebSocket: a first packet that is ${name}, not CONNECT, closes with 1002 [MQTT-3.1.0-1]`, async () => {
    const client = await RawWsClient.open(patient.wsUrl);
    try {
      client.send(bytes);
      const close = await within(client.closed, 5000, 'the gateway to close the client');
      assert.equal(close.code, 1002);
      assert.equal(close.packetsBefore, 0);
      await released(patient);
      assert.equal(backend.connections.length, 0, 'the backend never saw the client');
    } finally {
      client.ws.terminate();
    }
  });
}
