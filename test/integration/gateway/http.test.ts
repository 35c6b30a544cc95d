import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startMosquitto, MOSQUITTO, freePort, type Mosquitto } from '../../helpers/mosquitto.js';
import { requireProgram } from '../../helpers/programs.js';
import { upgradeStatus } from '../../helpers/raw-ws.js';
import { waitEvent } from '../../helpers/wait.js';

const needs = requireProgram(MOSQUITTO, 'mosquitto');
let broker: Mosquitto;
let app: http.Server;
let appWs: WebSocketServer;
let gw: TestGateway;

before(async () => {
  if (needs.skip) return;
  broker = await startMosquitto();
  // The web application the gateway fronts: answers every path, and has a WebSocket of its own.
  app = http.createServer((req, res) => res.end(`app saw ${req.method} ${req.url} from ${req.headers['x-forwarded-for']}`));
  appWs = new WebSocketServer({ server: app, path: '/app-socket' });
  appWs.on('connection', (ws) => ws.send('hello from the app'));
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  gw = await startGateway({ BROKER_URL: broker.url, HTTP_UPSTREAM: `http://127.0.0.1:${(app.address() as AddressInfo).port}` });
});
after(async () => {
  await gw?.close();
  appWs?.close();
  app?.close();
  await broker?.stop();
});

test('GET /healthz answers 200 while the process is alive', needs, async () => {
  const res = await fetch(`${gw.httpUrl}/healthz`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'ok' });
});

test('GET /readyz answers 200 when the backend is reachable and 503 when it is not', needs, async () => {
  assert.equal((await fetch(`${gw.httpUrl}/readyz`)).status, 200);
  const orphan = await startGateway({ BROKER_URL: `mqtt://127.0.0.1:${await freePort()}` });
  try {
    const res = await fetch(`${orphan.httpUrl}/readyz`);
    assert.equal(res.status, 503);
  } finally {
    await orphan.close();
  }
});

test('other requests go to HTTP_UPSTREAM, with X-Forwarded-For', needs, async () => {
  const res = await fetch(`${gw.httpUrl}/index.html?x=1`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'app saw GET /index.html?x=1 from 127.0.0.1');
});

test('WebSocket upgrades on other paths go to HTTP_UPSTREAM', needs, async () => {
  const client = new WebSocket(gw.wsUrl.replace('/mqtt', '/app-socket'));
  const [message] = (await waitEvent(client, 'message')) as [Buffer];
  assert.equal(message.toString(), 'hello from the app');
  client.close();
});

test('without HTTP_UPSTREAM other paths answer 404', needs, async () => {
  const plain = await startGateway({ BROKER_URL: broker.url });
  try {
    assert.equal((await fetch(`${plain.httpUrl}/nothing-here`)).status, 404);
    assert.equal(await upgradeStatus(`${plain.httpUrl}/app-socket`), 404);
  } finally {
    await plain.close();
  }
});

test('forwarding headers reach HTTP_UPSTREAM only from a trusted proxy', needs, async () => {
  const spoofed = await fetch(`${gw.httpUrl}/who`, { headers: { 'X-Forwarded-For': '6.6.6.6', Forwarded: 'for=6.6.6.6' } });
  assert.equal(await spoofed.text(), 'app saw GET /who from 127.0.0.1', 'an untrusted client cannot pose as another address');
  const trusting = await startGateway({ BROKER_URL: broker.url, HTTP_UPSTREAM: `http://127.0.0.1:${(app.address() as AddressInfo).port}`, TRUSTED_PROXIES: '127.0.0.1' });
  try {
    const relayed = await fetch(`${trusting.httpUrl}/who`, { headers: { 'X-Forwarded-For': '6.6.6.6' } });
    assert.equal(await relayed.text(), 'app saw GET /who from 6.6.6.6,127.0.0.1');
  } finally {
    await trusting.close();
  }
});
