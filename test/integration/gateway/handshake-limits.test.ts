import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import mqtt from 'mqtt';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startMosquitto, MOSQUITTO, type Mosquitto } from '../../helpers/mosquitto.js';
import { requireProgram } from '../../helpers/programs.js';
import { RawWsClient } from '../../helpers/raw-mqtt.js';
import { tcpFrom, logLines } from '../../helpers/edge-clients.js';
import { waitEvent, waitFor, within } from '../../helpers/wait.js';

/**
 * Slowloris and oversized first packets: a client that has not proved anything yet holds a socket
 * for at most HANDSHAKE_TIMEOUT_MS, and can make the gateway buffer at most MAX_PRE_AUTH_PACKET_SIZE.
 */

const needs = requireProgram(MOSQUITTO, 'mosquitto');
const handshakeTimeoutMs = 400;
const preAuthLimit = 1024;
let broker: Mosquitto;
let gw: TestGateway;
let proxied: TestGateway;

before(async () => {
  if (needs.skip) return;
  broker = await startMosquitto();
  const env = {
    BROKER_URL: broker.url,
    HANDSHAKE_TIMEOUT_MS: String(handshakeTimeoutMs),
    MAX_PRE_AUTH_PACKET_SIZE: String(preAuthLimit),
    CONNECT_TIMEOUT_MS: '60000',
  };
  gw = await startGateway(env);
  proxied = await startGateway({ ...env, PROXY_PROTOCOL: 'true', TRUSTED_PROXIES: '127.0.0.1' });
});
after(async () => {
  await gw?.close();
  await proxied?.close();
  await broker?.stop();
});

/** Timers may fire a little early by the wall clock: 50 ms of slack. */
function assertAtTimeout(openedAt: number, closedAt: number): void {
  const elapsed = closedAt - openedAt;
  assert.ok(elapsed >= handshakeTimeoutMs - 50, `closed after ${elapsed} ms, before the ${handshakeTimeoutMs} ms timeout`);
  assert.ok(elapsed < handshakeTimeoutMs + 2000, `closed after ${elapsed} ms, long after the timeout`);
}

test('slowloris over HTTP: a partial upgrade request is closed at HANDSHAKE_TIMEOUT_MS', needs, async () => {
  const peer = await tcpFrom(gw.ports.http as number);
  const openedAt = Date.now();
  peer.socket.write('GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
  assertAtTimeout(openedAt, await within(peer.closed, 5000, 'the slow request to be closed'));
  await waitFor(() => logLines(gw.logs, 'handshake timeout').length > 0, 'the handshake timeout log line');
  assert.ok(gw.gateway.edge.limiter.snapshot().handshakeTimeouts >= 1);
});

test('slowloris over HTTPS: a client that never starts TLS is closed at HANDSHAKE_TIMEOUT_MS', needs, async () => {
  const peer = await tcpFrom(gw.ports.https as number);
  const openedAt = Date.now();
  assertAtTimeout(openedAt, await within(peer.closed, 5000, 'the silent TLS client to be closed'));
});

test('slowloris over HTTPS: TLS done, then a partial request, is closed at HANDSHAKE_TIMEOUT_MS', needs, async () => {
  const socket = tls.connect({ port: gw.ports.https as number, host: '127.0.0.1', servername: 'localhost', ca: gw.ca });
  socket.on('error', () => {});
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
  await waitEvent(socket, 'secureConnect');
  const openedAt = Date.now();
  socket.write('GET /mqtt HTTP/1.1\r\nHost: localhost\r\n');
  assertAtTimeout(openedAt, await within(closed, 5000, 'the slow request to be closed'));
});

test('MQTTS: a client that never starts TLS is closed at HANDSHAKE_TIMEOUT_MS', needs, async () => {
  const peer = await tcpFrom(gw.ports.mqtts as number);
  const openedAt = Date.now();
  assertAtTimeout(openedAt, await within(peer.closed, 5000, 'the silent TLS client to be closed'));
});

test('PROXY_PROTOCOL: a header that never completes is closed at HANDSHAKE_TIMEOUT_MS', needs, async () => {
  const peer = await tcpFrom(proxied.ports.mqtt as number);
  const openedAt = Date.now();
  peer.socket.write('PROXY TCP4 192.0.2.1 ');
  assertAtTimeout(openedAt, await within(peer.closed, 5000, 'the partial PROXY header to be closed'));
  assert.ok(logLines(proxied.logs, 'connection refused').some((line) => /PROXY header within/.test(String(line.reason))));
});

test('raw TCP: a first packet declaring 10 MB is refused at its header, before its body is sent', needs, async () => {
  const peer = await tcpFrom(gw.ports.mqtt as number);
  // CONNECT fixed header, Remaining Length 10_000_000 (four-byte varint), then a few body bytes.
  peer.socket.write(Buffer.from([0x10, 0x80, 0xad, 0xe2, 0x04, 0x00, 0x04]));
  await within(peer.closed, 2000, 'the gateway to refuse the packet');
  await waitFor(() => logLines(gw.logs, 'closing client', { reason: 'packet too large' }).length > 0, 'the refusal log line');
  assert.equal(peer.log.packets.length, 0);
});

test('WebSocket: a first packet over MAX_PRE_AUTH_PACKET_SIZE is refused with 1009', needs, async () => {
  const client = await RawWsClient.open(gw.wsUrl);
  // Only the header travels: the size is known from it.
  client.send(Buffer.from([0x10, 0x80, 0x10]));
  const close = await within(client.closed, 2000, 'the gateway to close');
  assert.equal(close.code, 1009);
});

test('after CONNECT the limit is MAX_PACKET_SIZE: a 100 KiB publish crosses', needs, async () => {
  const opts = { reconnectPeriod: 0, connectTimeout: 5000 };
  const sub = mqtt.connect(gw.mqttUrl, opts);
  const pub = mqtt.connect(gw.wsUrl, opts);
  try {
    await Promise.all([waitEvent(sub as never, 'connect'), waitEvent(pub as never, 'connect')]);
    await sub.subscribeAsync('big/after-connect', { qos: 1 });
    const received = waitEvent<[string, Buffer]>(sub as never, 'message');
    const payload = Buffer.alloc(100 * 1024, 7);
    await pub.publishAsync('big/after-connect', payload, { qos: 1 });
    const [, got] = await received;
    assert.equal(got.length, payload.length);
  } finally {
    await Promise.all([sub.endAsync(), pub.endAsync()]);
  }
});

test('a CONNECT above MAX_PRE_AUTH_PACKET_SIZE (a big will) is refused', needs, async () => {
  const client = mqtt.connect(gw.mqttUrl, {
    reconnectPeriod: 0,
    connectTimeout: 3000,
    will: { topic: 'w', payload: Buffer.alloc(preAuthLimit * 2), qos: 0, retain: false },
  });
  client.on('error', () => {});
  await within(waitEvent(client as never, 'close'), 5000, 'the client to be closed');
  client.end(true);
  assert.ok(logLines(gw.logs, 'closing client', { reason: 'packet too large' }).some((line) => /2\d{3} bytes/.test(String(line.detail))));
});
