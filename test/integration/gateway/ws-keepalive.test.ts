import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { RecordingBackend } from '../../helpers/recording-backend.js';
import { wsHandshake, tcpFrom, logLines } from '../../helpers/edge-clients.js';
import { waitFor, within } from '../../helpers/wait.js';
import { RawClient } from '../../helpers/raw-ws.js';
import { publishBytes } from '../../helpers/raw-mqtt.js';

/**
 * Keep-alive help for proxies with idle timeouts: the gateway pings WebSocket clients every
 * WS_PING_INTERVAL_MS and closes one that has not answered by the next ping; a client whose MQTT
 * keep alive is at or above PROXY_IDLE_TIMEOUT_S is warned about.
 */

const pingMs = 150;
let backend: RecordingBackend;
let gw: TestGateway;

before(async () => {
  backend = await RecordingBackend.start();
  gw = await startGateway({ BROKER_URL: backend.url, WS_PING_INTERVAL_MS: String(pingMs), PROXY_IDLE_TIMEOUT_S: '60' });
});
after(async () => {
  await gw.close();
  await backend.close();
});

function connect(clientId: string, keepalive: number): Buffer {
  return mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive }, { protocolVersion: 4 });
}

test('the gateway pings every WS_PING_INTERVAL_MS; a client that answers stays open', async () => {
  const { ws } = await wsHandshake(gw.wsUrl);
  assert.ok(ws);
  let pings = 0;
  ws.on('ping', () => pings++);
  await waitFor(() => pings >= 3, 'three pings', 5000);
  assert.equal(ws.readyState, ws.OPEN);
  ws.close();
});

test('a client that does not answer pings is closed at the next interval', async () => {
  const { ws } = await wsHandshake(gw.wsUrl, { autoPong: false });
  assert.ok(ws);
  ws.send(connect('silent-peer', 30));
  let firstPingAt: number | undefined;
  ws.on('ping', () => (firstPingAt ??= Date.now()));
  await within(new Promise((resolve) => ws.once('close', resolve)), 5000, 'the silent client to be closed');
  assert.ok(firstPingAt !== undefined, 'pinged before being closed');
  // Timers may fire a few milliseconds early or late; a whole interval is the point.
  assert.ok(Date.now() - firstPingAt >= pingMs - 20, 'closed only after a ping went unanswered for a whole interval');
  await waitFor(() => logLines(gw.logs, 'closing client', { clientId: 'silent-peer', reason: 'no pong to a WebSocket ping' }).length === 1, 'the close log line');
});

test('a keep alive at or above PROXY_IDLE_TIMEOUT_S (or none) is warned about; a shorter one is not', async () => {
  for (const [clientId, keepalive] of [['ka-long', 60], ['ka-none', 0], ['ka-short', 30]] as const) {
    const peer = await tcpFrom(gw.ports.mqtt as number);
    peer.socket.write(connect(clientId, keepalive));
    await waitFor(() => logLines(gw.logs, 'client connected', { clientId }).length === 1, `${clientId} to connect`);
    await peer.close();
  }
  const warned = gw.logs.filter((l) => /at or above the proxy idle timeout/.test(String(l.msg))).map((l) => l.clientId);
  assert.deepEqual(warned, ['ka-long', 'ka-none']);
  const line = gw.logs.find((l) => l.clientId === 'ka-long' && l.level === 40);
  assert.equal(line?.keepalive, 60);
  assert.equal(line?.proxyIdleTimeoutS, 60);
});

test('a WebSocket client is not warned about its keep alive while server pings beat the idle timeout', async () => {
  const client = await RawClient.open(gw.wsUrl);
  client.send(connect('ka-ws-long', 60));
  await waitFor(() => logLines(gw.logs, 'client connected', { clientId: 'ka-ws-long' }).length === 1, 'the client to connect');
  assert.equal(gw.logs.filter((l) => l.clientId === 'ka-ws-long' && /proxy idle timeout/.test(String(l.msg))).length, 0);
  client.ws.close();
});

test('a client held back by backpressure is not taken for silent: its pongs wait unread, not missing', async () => {
  const index = backend.connections.length;
  const { ws } = await wsHandshake(gw.wsUrl);
  assert.ok(ws);
  const connectPacket = connect('held-back', 30);
  ws.send(connectPacket);
  // The backend stops reading: the gateway's writes to it back up, and it stops reading the client.
  (await backend.received(index, connectPacket.length)).socket.pause();
  const publish = publishBytes('t/held', Buffer.alloc(64 * 1024));
  const topUp = (): void => {
    while (ws.bufferedAmount < 4 * 1024 * 1024) ws.send(publish);
  };
  topUp();
  let pings = 0;
  ws.on('ping', () => {
    pings++;
    topUp();
  });
  await waitFor(() => pings >= 5, 'five pings while held back', 5000);
  assert.ok(ws.bufferedAmount > 0, 'the client was still held back');
  assert.equal(ws.readyState, ws.OPEN);
  assert.equal(logLines(gw.logs, 'closing client', { clientId: 'held-back' }).length, 0);
  ws.terminate();
});
