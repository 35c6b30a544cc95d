import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { generateSelfSignedCertificate } from '../../../src/tls/self-signed.js';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startMosquitto, MOSQUITTO, type Mosquitto } from '../../helpers/mosquitto.js';
import { requireProgram } from '../../helpers/programs.js';
import { metricValue, scrape } from '../../helpers/scrape.js';
import { waitEvent, waitFor } from '../../helpers/wait.js';

const needs = requireProgram(MOSQUITTO, 'mosquitto');

interface Pem {
  certPem: string;
  keyPem: string;
  fingerprint: string;
}

function newCertificate(hostname = 'localhost'): Pem {
  const { certPem, keyPem } = generateSelfSignedCertificate(hostname);
  return { certPem, keyPem, fingerprint: new X509Certificate(certPem).fingerprint256 };
}

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-reload-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes the pair the way editors and deploy tools do: a temporary file renamed over the old one. */
function replaceByRename(dir: string, pem: Pem): void {
  for (const [name, content] of [['server.key', pem.keyPem], ['server.crt', pem.certPem]] as const) {
    const temp = path.join(dir, `.${name}.tmp`);
    fs.writeFileSync(temp, content, { mode: 0o600 });
    fs.renameSync(temp, path.join(dir, name));
  }
}

function writePair(dir: string, pem: Pem): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'server.key'), pem.keyPem, { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'server.crt'), pem.certPem);
}

/** The SHA-256 fingerprint of the certificate a new TLS connection is given. */
async function servedFingerprint(port: number, servername?: string): Promise<string> {
  const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
  try {
    await waitEvent(socket, 'secureConnect');
    return socket.getPeerCertificate().fingerprint256;
  } finally {
    socket.destroy();
  }
}

async function connect(url: string, options: IClientOptions): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  await waitEvent(client as unknown as EventEmitter, 'connect');
  return client;
}

async function roundTrip(from: MqttClient, to: MqttClient, topic: string, text: string): Promise<void> {
  const received = waitEvent<[string, Buffer]>(to as unknown as EventEmitter, 'message');
  await from.publishAsync(topic, text, { qos: 1 });
  const [gotTopic, payload] = await received;
  assert.equal(gotTopic, topic);
  assert.equal(payload.toString(), text);
}

function logLines(gw: TestGateway, msg: string): Record<string, unknown>[] {
  return gw.logs.filter((line) => line.msg === msg);
}

async function withBroker(t: TestContext): Promise<Mosquitto> {
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  return broker;
}

test('rotated certificate files: open wss clients keep working, new handshakes get the new certificate, a broken file is refused', needs, async (t) => {
  const broker = await withBroker(t);
  const certsDir = tempDir(t);
  const first = newCertificate();
  const second = newCertificate();
  writePair(certsDir, first);
  const gw = await startGateway({ BROKER_URL: broker.url, CERTS_DIR: certsDir, TLS_RELOAD_DEBOUNCE_MS: '50' });
  t.after(() => gw.close());
  const https = gw.ports.https as number;
  const mqtts = gw.ports.mqtts as number;
  assert.equal(await servedFingerprint(https), first.fingerprint);

  const old = await connect(gw.wssUrl, { ca: first.certPem, clientId: 'rotation-old' });
  t.after(() => old.end(true));
  await old.subscribeAsync('rotation/#', { qos: 1 });

  replaceByRename(certsDir, second);
  await waitFor(
    () => logLines(gw, 'TLS certificate reloaded').find((line) => line.fingerprint256 === second.fingerprint),
    'the reload of the rotated certificate',
  );
  assert.equal(await servedFingerprint(https), second.fingerprint, 'HTTPS serves the new certificate');
  assert.equal(await servedFingerprint(mqtts), second.fingerprint, 'MQTTS serves the new certificate');

  // The connection made before the rotation carries on with its session.
  await roundTrip(old, old, 'rotation/self', 'still here');
  // A new client trusts only the new certificate, and talks to the old one.
  const fresh = await connect(gw.wssUrl, { ca: second.certPem, clientId: 'rotation-new' });
  t.after(() => fresh.end(true));
  await roundTrip(fresh, old, 'rotation/new-to-old', 'hello across the rotation');

  // A broken certificate is refused with one line, and the one in service stays.
  fs.writeFileSync(path.join(certsDir, 'server.crt'), '-----BEGIN CERTIFICATE-----\nnot a certificate\n');
  await waitFor(() => logLines(gw, 'TLS certificate reload refused; the previous certificate stays in service').length > 0, 'the refusal');
  assert.equal(await servedFingerprint(https), second.fingerprint);
  assert.equal(await servedFingerprint(mqtts), second.fingerprint);
  await roundTrip(fresh, old, 'rotation/after-refusal', 'unaffected');
  const refusals = logLines(gw, 'TLS certificate reload refused; the previous certificate stays in service');
  assert.equal(refusals.length, 1);
  assert.equal(refusals[0]?.level, 50);
  assert.match(String(refusals[0]?.reason), /server\.crt/);

  const samples = await scrape(`${gw.httpUrl}/metrics`);
  assert.equal(metricValue(samples, 'mqtt_gateway_tls_reloads_total', { result: 'refused' }), 1);
  assert.ok(metricValue(samples, 'mqtt_gateway_tls_reloads_total', { result: 'ok' }) >= 1);

  await Promise.all([old.endAsync(), fresh.endAsync()]);
});

test('SNI picks the certificate of certs/<hostname>/, falls back to the default, and sees new directories', async (t) => {
  const certsDir = tempDir(t);
  const fallback = newCertificate();
  const alpha = newCertificate('alpha.example');
  const wildcard = newCertificate('wild.example');
  const beta = newCertificate('beta.example');
  writePair(certsDir, fallback);
  writePair(path.join(certsDir, 'alpha.example'), alpha);
  writePair(path.join(certsDir, '*.wild.example'), wildcard);
  fs.mkdirSync(path.join(certsDir, '..data'));
  writePair(path.join(certsDir, '..data'), beta); // hidden: a secret volume's internals, never a host name

  const gw = await startGateway({ CERTS_DIR: certsDir, TLS_RELOAD_DEBOUNCE_MS: '50', HTTP_PORT: '' });
  t.after(() => gw.close());
  for (const port of [gw.ports.https as number, gw.ports.mqtts as number]) {
    assert.equal(await servedFingerprint(port, 'alpha.example'), alpha.fingerprint);
    assert.equal(await servedFingerprint(port, 'ALPHA.example'), alpha.fingerprint, 'server names compare without case');
    assert.equal(await servedFingerprint(port, 'one.wild.example'), wildcard.fingerprint);
    assert.equal(await servedFingerprint(port, 'two.one.wild.example'), fallback.fingerprint, 'a wildcard covers one label');
    assert.equal(await servedFingerprint(port, 'unknown.example'), fallback.fingerprint);
    assert.equal(await servedFingerprint(port), fallback.fingerprint, 'no SNI: the default certificate');
  }

  writePair(path.join(certsDir, 'beta.example'), beta);
  await waitFor(() => logLines(gw, 'TLS certificate reloaded').find((line) => line.servername === 'beta.example'), 'the new directory');
  assert.equal(await servedFingerprint(gw.ports.https as number, 'beta.example'), beta.fingerprint);

  // A bad key for one name keeps that name's certificate.
  fs.writeFileSync(path.join(certsDir, 'alpha.example', 'server.key'), newCertificate().keyPem);
  await waitFor(
    () => logLines(gw, 'TLS certificate reload refused; the previous certificate stays in service').find((l) => l.servername === 'alpha.example'),
    'the refusal of the mismatched key',
  );
  assert.equal(await servedFingerprint(gw.ports.https as number, 'alpha.example'), alpha.fingerprint);
});

test('HTTP_REDIRECT_HTTPS sends page requests to HTTPS, but not probes, metrics or the MQTT path', needs, async (t) => {
  const broker = await withBroker(t);
  const gw = await startGateway({ BROKER_URL: broker.url, HTTP_REDIRECT_HTTPS: 'true' });
  t.after(() => gw.close());
  const get = async (pathname: string) => {
    const response = await fetch(`${gw.httpUrl}${pathname}`, { redirect: 'manual', signal: AbortSignal.timeout(5000) });
    await response.arrayBuffer();
    return response;
  };
  const page = await get('/some/page?x=1');
  assert.equal(page.status, 301);
  assert.equal(page.headers.get('location'), `https://127.0.0.1:${gw.ports.https}/some/page?x=1`);
  assert.equal((await get('/')).status, 301);
  assert.equal((await get('/healthz')).status, 200);
  assert.equal((await get('/metrics')).status, 200);
  assert.notEqual((await get('/readyz')).status, 301);
  assert.equal((await get('/mqtt')).status, 426, 'the MQTT path is not redirected');

  const client = await connect(gw.wsUrl, {});
  await client.endAsync();
});

test('HTTP_REDIRECT_MQTT also sends plain ws:// MQTT clients to wss://', async (t) => {
  const gw = await startGateway({ HTTP_REDIRECT_HTTPS: 'true', HTTP_REDIRECT_MQTT: 'true', MQTT_PORT: '', MQTTS_PORT: '' });
  t.after(() => gw.close());
  const response = await fetch(`${gw.httpUrl}/mqtt`, { redirect: 'manual', signal: AbortSignal.timeout(5000) });
  await response.arrayBuffer();
  assert.equal(response.status, 301);
  const ws = new WebSocket(gw.wsUrl, 'mqtt');
  ws.on('error', () => {}); // the refused upgrade is read from 'unexpected-response'
  const [, upgrade] = await waitEvent<[unknown, { statusCode: number; headers: Record<string, string> }]>(ws, 'unexpected-response');
  ws.terminate();
  assert.equal(upgrade.statusCode, 301);
  assert.equal(upgrade.headers.location, `wss://127.0.0.1:${gw.ports.https}/mqtt`);
  const healthz = await fetch(`${gw.httpUrl}/healthz`, { redirect: 'manual', signal: AbortSignal.timeout(5000) });
  await healthz.arrayBuffer();
  assert.equal(healthz.status, 200);
});
