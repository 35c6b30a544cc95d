import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type WebSocket from 'ws';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { RecordingBackend } from '../../helpers/recording-backend.js';
import { connectBytes } from '../../helpers/raw-mqtt.js';
import { wsHandshake, logLines } from '../../helpers/edge-clients.js';
import { waitFor } from '../../helpers/wait.js';
import { upgradeStatus } from '../../helpers/raw-ws.js';

/**
 * X-Forwarded-For and Forwarded on the WebSocket upgrade name the client only when our peer is a
 * trusted proxy (TRUSTED_PROXIES); a client cannot hide behind a header it wrote itself.
 */

let backend: RecordingBackend;
let gw: TestGateway;
const sockets: WebSocket[] = [];

before(async () => {
  backend = await RecordingBackend.start();
  gw = await startGateway({ BROKER_URL: backend.url, TRUSTED_PROXIES: '127.0.0.1', BROKER_PROXY_PROTOCOL: 'v1' });
});
after(async () => {
  for (const ws of sockets) ws.terminate();
  await gw.close();
  await backend.close();
});

/** Opens a WebSocket with these headers from `from`, sends CONNECT as `clientId`, and returns its 'client connected' log line. */
async function connectedLine(clientId: string, headers: Record<string, string>, from = '127.0.0.1') {
  const handshake = await wsHandshake(gw.wsUrl, { headers, localAddress: from });
  assert.ok(handshake.ws, `handshake refused with ${handshake.status}`);
  sockets.push(handshake.ws);
  handshake.ws.send(connectBytes(clientId));
  return waitFor(() => logLines(gw.logs, 'client connected', { clientId })[0], `the log line of ${clientId}`);
}

test('X-Forwarded-For from a trusted proxy names the client, and the backend hears of it', async () => {
  const index = backend.connections.length;
  const line = await connectedLine('xff-trusted', { 'X-Forwarded-For': '203.0.113.9, 127.0.0.1' });
  assert.equal(line.remote, '203.0.113.9');
  const { bytes } = await backend.received(index, 20);
  assert.match(bytes.toString('latin1'), new RegExp(`^PROXY TCP4 203\\.0\\.113\\.9 127\\.0\\.0\\.1 0 ${gw.ports.http}\\r\\n`));
});

test('a spoofed X-Forwarded-For from an untrusted peer is ignored, and logged', async () => {
  const line = await connectedLine('xff-spoofed', { 'X-Forwarded-For': '10.0.0.1' }, '127.0.0.2');
  assert.match(String(line.remote), /^127\.0\.0\.2:\d+$/);
  const ignored = logLines(gw.logs, 'forwarding headers ignored');
  assert.ok(ignored.some((l) => l.xForwardedFor === '10.0.0.1' && /untrusted peer 127\.0\.0\.2/.test(String(l.reason))));
});

test('Forwarded (RFC 7239) from a trusted proxy: IPv6 client with its port', async () => {
  const line = await connectedLine('forwarded-v6', { Forwarded: 'for="[2001:db8::7]:4711";proto=https' });
  assert.equal(line.remote, '[2001:db8::7]:4711');
});

test('a spoofed Forwarded from an untrusted peer is ignored', async () => {
  const line = await connectedLine('forwarded-spoofed', { Forwarded: 'for=192.0.2.1' }, '127.0.0.2');
  assert.match(String(line.remote), /^127\.0\.0\.2:\d+$/);
});

test('a refused upgrade is logged under the client address a trusted proxy named', async () => {
  assert.equal(await upgradeStatus(gw.wsUrl, { 'X-Forwarded-For': '203.0.113.77', 'Sec-WebSocket-Protocol': 'chat' }), 400);
  const line = await waitFor(() => logLines(gw.logs, 'upgrade refused', { status: 400 })[0], 'the refusal line');
  assert.equal(line.remote, '203.0.113.77');
});
