import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventEmitter } from 'node:events';
import net from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startMosquitto, MOSQUITTO } from '../../helpers/mosquitto.js';
import { requireProgram } from '../../helpers/programs.js';
import { metricValue, scrape, type Sample } from '../../helpers/scrape.js';
import { waitEvent, waitFor } from '../../helpers/wait.js';

const needs = requireProgram(MOSQUITTO, 'mosquitto');

async function connect(url: string, gw: TestGateway, options: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ca: gw.ca, ...options });
  await waitEvent(client as unknown as EventEmitter, 'connect');
  return client;
}

/** The HTTP status a refused WebSocket upgrade got. */
async function refusedStatus(url: string, options: WebSocket.ClientOptions = {}): Promise<number> {
  const ws = new WebSocket(url, 'mqtt', options);
  ws.on('error', () => {}); // the refusal itself is what the test reads, from 'unexpected-response'
  const [, response] = await waitEvent<[unknown, { statusCode: number }]>(ws, 'unexpected-response');
  ws.terminate();
  return response.statusCode;
}

/** Scrapes until every connection the gateway counted as open has closed. */
async function scrapeWhenIdle(gw: TestGateway, url: string): Promise<Sample[]> {
  return waitFor(async () => {
    if (gw.gateway.connectionCount !== 0) return undefined;
    const samples = await scrape(url);
    return metricValue(samples, 'mqtt_gateway_connections_open') === 0 ? samples : undefined;
  }, 'every connection to be closed and counted');
}

/** Bytes the gateway logged per transport when each client disconnected. */
function loggedBytes(gw: TestGateway, transport: string, field: 'bytesIn' | 'bytesOut'): number {
  return gw.logs
    .filter((line) => line.msg === 'client disconnected' && line.transport === transport)
    .reduce((sum, line) => sum + (line[field] as number), 0);
}

test('GET /metrics counts connections, refusals, close codes, CONNECT outcomes, bytes and packets', needs, async (t) => {
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  const gw = await startGateway({ BROKER_URL: broker.url, ALLOWED_ORIGINS: 'https://app.example' });
  t.after(() => gw.close());
  const metricsUrl = `${gw.httpUrl}/metrics`;

  const sub = await connect(gw.wsUrl, gw, { clientId: 'metrics-sub' });
  const pub = await connect(gw.wsUrl, gw, { clientId: 'metrics-pub', protocolVersion: 5 });
  const tcp = await connect(gw.mqttUrl, gw, { clientId: 'metrics-tcp' });
  let samples = await scrape(metricsUrl);
  assert.equal(metricValue(samples, 'mqtt_gateway_connections_open', { listener: 'ws' }), 2);
  assert.equal(metricValue(samples, 'mqtt_gateway_connections_open', { listener: 'tcp' }), 1);

  const publishes = 5;
  await sub.subscribeAsync('metrics/#', { qos: 1 });
  let received = 0;
  const allReceived = new Promise<void>((resolve) =>
    sub.on('message', () => {
      if (++received === publishes) resolve();
    }),
  );
  for (let i = 0; i < publishes; i++) await pub.publishAsync('metrics/one', `message ${i}`, { qos: 1 });
  await allReceived;

  assert.equal(await refusedStatus(gw.wsUrl, { origin: 'https://evil.example' }), 403);
  assert.equal(await refusedStatus(`ws://127.0.0.1:${gw.ports.http}/not-mqtt`), 404);

  // A text frame is not MQTT [MQTT-6.0.0-1]: closed with 1003.
  const text = new WebSocket(gw.wsUrl, 'mqtt');
  await waitEvent(text, 'open');
  text.send('hello');
  const [code] = await waitEvent<[number]>(text, 'close');
  assert.equal(code, 1003);

  await Promise.all([sub.endAsync(), pub.endAsync(), tcp.endAsync()]);
  samples = await scrapeWhenIdle(gw, metricsUrl);

  const value = (name: string, labels?: Record<string, string>) => metricValue(samples, `mqtt_gateway_${name}`, labels);
  assert.equal(value('connections_total', { listener: 'ws' }), 3, 'two MQTT clients and the text-frame client');
  assert.equal(value('connections_total', { listener: 'tcp' }), 1);
  assert.equal(value('connections_total', { listener: 'wss' }), 0);
  assert.equal(value('handshakes_refused_total', { reason: 'origin' }), 1);
  assert.equal(value('handshakes_refused_total', { reason: 'path' }), 1);
  assert.equal(value('handshakes_refused_total'), 2);
  assert.equal(value('websocket_closes_total', { code: '1003' }), 1);
  assert.equal(value('websocket_closes_total'), 3);
  assert.equal(value('connects_total', { outcome: 'accepted' }), 3);
  assert.equal(value('connects_total', { outcome: 'not_connect' }), 1);
  assert.equal(value('connects_total'), 4);
  assert.equal(value('packets_total', { direction: 'in', type: 'connect' }), 3);
  assert.equal(value('packets_total', { direction: 'in', type: 'subscribe' }), 1);
  assert.equal(value('packets_total', { direction: 'in', type: 'publish' }), publishes);
  assert.equal(value('packets_total', { direction: 'in', type: 'puback' }), publishes, 'the subscriber acknowledges each QoS 1 message');
  assert.equal(value('packets_total', { direction: 'in', type: 'disconnect' }), 3);
  for (const listener of ['ws', 'tcp']) {
    assert.equal(value('bytes_total', { direction: 'in', listener }), loggedBytes(gw, listener, 'bytesIn'), `bytes in over ${listener}`);
    assert.equal(value('bytes_total', { direction: 'out', listener }), loggedBytes(gw, listener, 'bytesOut'), `bytes out over ${listener}`);
    assert.ok(value('bytes_total', { direction: 'in', listener }) > 0);
  }
  assert.equal(value('backend_connect_seconds_count'), 3, 'one backend connection per accepted client');
  assert.equal(value('backend_connect_failures_total'), 0);
  assert.ok(metricValue(samples, 'nodejs_eventloop_lag_seconds', {}) >= 0);
  assert.ok(samples.some((s) => s.name === 'process_cpu_user_seconds_total'), 'default process metrics are included');
  assert.ok(value('tls_certificate_not_after_seconds', { servername: 'default' }) * 1000 > Date.now());
});

test('a CONNACK refusal, a CONNECT timeout and an unreachable backend are counted by outcome', needs, async (t) => {
  const broker = await startMosquitto({ extraConfig: ['allow_anonymous false'] });
  t.after(() => broker.stop());
  const gw = await startGateway({ BROKER_URL: broker.url, CONNECT_TIMEOUT_MS: '300' });
  t.after(() => gw.close());
  const metricsUrl = `${gw.httpUrl}/metrics`;

  for (const protocolVersion of [4, 5] as const) {
    const refused = mqtt.connect(gw.wsUrl, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion });
    const [err] = await waitEvent<[Error & { code?: number }]>(refused as unknown as EventEmitter, 'error');
    assert.equal(err.code, protocolVersion === 5 ? 0x87 : 5);
    await refused.endAsync(true);
  }

  // Silent client: no CONNECT within CONNECT_TIMEOUT_MS.
  const silent = net.connect(gw.ports.mqtt as number, '127.0.0.1');
  silent.on('error', () => {}); // the gateway may reset it; only 'close' matters here
  await waitEvent(silent, 'close', 5000);

  let samples = await scrapeWhenIdle(gw, metricsUrl);
  assert.equal(metricValue(samples, 'mqtt_gateway_connects_total', { outcome: 'refused', reason: 'not_authorized' }), 2);
  assert.equal(metricValue(samples, 'mqtt_gateway_connects_total', { outcome: 'timeout' }), 1);
  assert.equal(metricValue(samples, 'mqtt_gateway_connects_total', { outcome: 'accepted' }), 0);

  await broker.stop();
  const orphan = mqtt.connect(gw.mqttUrl, { reconnectPeriod: 0, connectTimeout: 5000 });
  orphan.on('error', () => {});
  await waitEvent(orphan as unknown as EventEmitter, 'close');
  orphan.end(true);
  samples = await scrapeWhenIdle(gw, metricsUrl);
  assert.equal(metricValue(samples, 'mqtt_gateway_backend_connect_failures_total', { reason: 'unreachable' }), 1);
  assert.equal(metricValue(samples, 'mqtt_gateway_connects_total', { outcome: 'refused', reason: 'backend_unreachable' }), 1);
});

test('METRICS_PORT serves /metrics there only', async (t) => {
  const gw = await startGateway({ METRICS_PORT: '0', MQTTS_PORT: '', HTTPS_PORT: '' });
  t.after(() => gw.close());
  assert.ok(gw.ports.metrics !== null && gw.ports.metrics > 0);
  const samples = await scrape(`http://127.0.0.1:${gw.ports.metrics}/metrics`);
  assert.equal(metricValue(samples, 'mqtt_gateway_connections_open'), 0);
  assert.ok(samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds'));
  const onHttp = await fetch(`${gw.httpUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
  assert.equal(onHttp.status, 404);
  await onHttp.arrayBuffer();
  const other = await fetch(`http://127.0.0.1:${gw.ports.metrics}/healthz`, { signal: AbortSignal.timeout(5000) });
  assert.equal(other.status, 404);
  await other.arrayBuffer();
});
