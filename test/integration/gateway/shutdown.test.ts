import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { MqttClient } from 'mqtt';
import type { IDisconnectPacket } from 'mqtt-packet';
import { freePort, startMosquitto, MOSQUITTO } from '../../helpers/mosquitto.js';
import { requireProgram } from '../../helpers/programs.js';
import { spawnGateway, type GatewayProcess } from '../../helpers/gateway-process.js';
import { connectClient } from '../../helpers/mqtt-client.js';
import { RawWsClient, connectBytes } from '../../helpers/raw-mqtt.js';
import { startGateway } from '../../helpers/gateway.js';
import { generateSelfSignedCertificate } from '../../../src/tls/self-signed.js';
import { waitFor, within } from '../../helpers/wait.js';

/**
 * SIGTERM while QoS 1 messages are in flight: the gateway stops cleanly (exit 0, WebSockets closed
 * with 1001, MQTT 5 clients told DISCONNECT 0x8B first) within SHUTDOWN_TIMEOUT_MS, and a client
 * that reconnects to the next gateway loses none of its messages.
 */

const needs = requireProgram(MOSQUITTO, 'mosquitto');

const SHUTDOWN_TIMEOUT_MS = 5000;
const MESSAGES = 3000;
/** Publishes kept unacknowledged at any time, so that some are always in flight. */
const WINDOW = 100;
const TOPIC = 'shutdown/numbers';

/** Publishes 0..count-1 at QoS 1, keeping `window` unacknowledged; resolves when all are acknowledged. */
function publishNumbers(client: MqttClient, count: number, window: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let next = 0;
    let acked = 0;
    const publishNext = (): void => {
      const n = next++;
      client.publish(TOPIC, String(n), { qos: 1 }, (err) => {
        if (err) return reject(err);
        acked++;
        if (next < count) publishNext();
        else if (acked === count) resolve();
      });
    };
    for (let i = 0; i < Math.min(window, count); i++) publishNext();
  });
}

test('SIGTERM with QoS 1 messages in flight: exit 0 within SHUTDOWN_TIMEOUT_MS, 1001 closes, DISCONNECT 0x8B for MQTT 5, and no message lost', needs, async () => {
  const broker = await startMosquitto();
  const port = await freePort();
  const env = {
    HOST: '127.0.0.1',
    HTTP_PORT: String(port),
    HTTPS_PORT: '',
    MQTT_PORT: '',
    MQTTS_PORT: '',
    BROKER_URL: broker.url,
    LOG_LEVEL: 'info',
    SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
  };
  const wsUrl = `ws://127.0.0.1:${port}/mqtt`;
  const gateways: GatewayProcess[] = [];
  const clients: MqttClient[] = [];
  const observers: RawWsClient[] = [];
  try {
    const first = await spawnGateway(env);
    gateways.push(first);

    // A persistent subscriber straight on the broker: it sees what reached the broker, whatever the gateway does.
    const received = new Set<number>();
    const subscriber = await connectClient(broker.url, { clientId: 'shutdown-sub', clean: false });
    clients.push(subscriber);
    await subscriber.subscribeAsync(TOPIC, { qos: 1 });

    const v4 = await RawWsClient.open(wsUrl);
    observers.push(v4);
    await v4.connect('observer-4', 4);
    const v5 = await RawWsClient.open(wsUrl, { protocolVersion: 5 });
    observers.push(v5);
    await v5.connect('observer-5', 5);

    // The publisher comes back by itself (reconnectPeriod) and resends what was not acknowledged.
    const publisher = await connectClient(wsUrl, { clientId: 'shutdown-pub', clean: false, reconnectPeriod: 100 });
    clients.push(publisher);
    publisher.on('error', () => {}); // refused reconnects while no gateway listens
    let inFlightAtClose = -1;
    publisher.once('close', () => (inFlightAtClose = Object.keys(publisher.outgoing).length));

    let sigtermAt = 0;
    const signalled = new Promise<void>((resolve) =>
      subscriber.on('message', (_topic, payload) => {
        received.add(Number(payload.toString()));
        if (sigtermAt === 0 && received.size >= MESSAGES / 3) {
          sigtermAt = Date.now();
          first.child.kill('SIGTERM');
          resolve();
        }
      }),
    );
    const publishing = publishNumbers(publisher, MESSAGES, WINDOW);
    publishing.catch(() => {}); // awaited below; a rejection must not go unhandled meanwhile

    await within(signalled, 30_000, 'a third of the messages to arrive');
    const exit = await within(first.exited, SHUTDOWN_TIMEOUT_MS + 5000, 'the gateway to exit');
    assert.equal(exit.code, 0, `exit code ${exit.code} (signal ${exit.signal})\n${first.output()}`);
    assert.ok(exit.at - sigtermAt < SHUTDOWN_TIMEOUT_MS, `exited ${exit.at - sigtermAt} ms after SIGTERM`);
    assert.equal(first.logs.filter((l) => String(l.msg).startsWith('shutdown timeout')).length, 0, 'no connection had to be dropped');
    // Each of the three WebSocket clients was closed for the shutdown and let go (one log line each).
    const disconnected = first.logs.filter((l) => l.msg === 'client disconnected' && l.transport === 'ws');
    assert.deepEqual(
      disconnected.map((l) => l.reason),
      ['server shutting down', 'server shutting down', 'server shutting down'],
    );

    const v4Close = await within(v4.closed, 5000, 'the MQTT 3.1.1 observer to be closed');
    assert.equal(v4Close.code, 1001);
    const v5Close = await within(v5.closed, 5000, 'the MQTT 5 observer to be closed');
    assert.equal(v5Close.code, 1001);
    const disconnect = v5.log.packets.slice(0, v5Close.packetsBefore).find((p): p is IDisconnectPacket => p.cmd === 'disconnect');
    assert.equal(disconnect?.reasonCode, 0x8b, 'DISCONNECT with Server shutting down (0x8B) before the close');
    assert.ok(inFlightAtClose > 0, `the publisher had ${inFlightAtClose} messages in flight when the gateway closed it`);

    const second = await spawnGateway(env);
    gateways.push(second);
    await within(publishing, 60_000, 'every publish to be acknowledged through the second gateway');
    await waitFor(() => received.size === MESSAGES, `all ${MESSAGES} numbers at the subscriber`, 20_000);
    for (let n = 0; n < MESSAGES; n++) assert.ok(received.has(n), `message ${n} was lost`);
  } finally {
    for (const observer of observers) observer.ws.terminate();
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await Promise.all(gateways.map((g) => g.kill()));
    await broker.stop();
  }
});

test('shutdown while a backend connection is still being made: the client is closed with 1001 and shutdown does not wait for SHUTDOWN_TIMEOUT_MS', async () => {
  // A TLS backend whose handshake the test holds back until the shutdown has begun.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-shutdown-test-'));
  const { certPem, keyPem } = generateSelfSignedCertificate('localhost');
  const certFile = path.join(dir, 'backend.crt');
  fs.writeFileSync(certFile, certPem);
  const held: net.Socket[] = [];
  const backend = net.createServer((socket) => {
    socket.pause();
    held.push(socket);
  });
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  const gw = await startGateway({
    BROKER_URL: `mqtts://localhost:${(backend.address() as net.AddressInfo).port}`,
    BROKER_CA: certFile,
    BROKER_CONNECT_TIMEOUT_MS: '20000',
    SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
  });
  let raw: RawWsClient | undefined;
  const tlsSockets: tls.TLSSocket[] = [];
  try {
    raw = await RawWsClient.open(gw.wsUrl);
    raw.send(connectBytes('mid-dial', 5));
    const [socket] = await waitFor(() => (held.length > 0 ? held : undefined), 'the gateway to dial the backend');
    const startedAt = Date.now();
    const closing = gw.close();
    // Now the backend answers: the dial completes after the shutdown began.
    tlsSockets.push(new tls.TLSSocket(socket as net.Socket, { isServer: true, secureContext: tls.createSecureContext({ cert: certPem, key: keyPem }) }));
    await within(closing, SHUTDOWN_TIMEOUT_MS + 2000, 'the gateway to close');
    assert.ok(Date.now() - startedAt < SHUTDOWN_TIMEOUT_MS / 2, `close took ${Date.now() - startedAt} ms`);
    assert.equal(gw.logs.filter((l) => String(l.msg).startsWith('shutdown timeout')).length, 0, 'no connection had to be dropped');
    const close = await within(raw.closed, 5000, 'the client to be closed');
    assert.equal(close.code, 1001);
    assert.equal(raw.log.count('connack'), 0);
  } finally {
    raw?.ws.terminate();
    for (const socket of [...held, ...tlsSockets]) socket.destroy();
    await gw.close();
    await new Promise((resolve) => backend.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
