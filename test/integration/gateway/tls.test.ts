import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startMosquitto, MOSQUITTO, type Mosquitto } from '../../helpers/mosquitto.js';
import { requireProgram } from '../../helpers/programs.js';
import { issueClientCert, makeCa, type TestCertificate } from '../../helpers/pki.js';
import { connectClient, nextMessage } from '../../helpers/mqtt-client.js';
import { RawWsClient, connectBytes } from '../../helpers/raw-mqtt.js';
import { within } from '../../helpers/wait.js';
import { DEVELOPMENT_CERT_CN } from '../../../src/tls/self-signed.js';

/**
 * TLS at both ends: clients over mqtts:// and wss:// against the gateway's certificate, client
 * certificates required (mTLS), and the gateway dialling a TLS backend that it verifies.
 */

const needs = requireProgram(MOSQUITTO, 'mosquitto');
let broker: Mosquitto;
let gw: TestGateway;
let dir: string;

before(async () => {
  if (needs.skip) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-tls-test-'));
  broker = await startMosquitto();
  gw = await startGateway({ BROKER_URL: broker.url });
});
after(async () => {
  await gw?.close();
  await broker?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function writeFile(name: string, content: string | Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

async function roundTrip(pub: MqttClient, sub: MqttClient, topic: string): Promise<void> {
  await sub.subscribeAsync(topic, { qos: 1 });
  const received = nextMessage(sub);
  await pub.publishAsync(topic, `via ${topic}`, { qos: 1 });
  const [gotTopic, payload] = await received;
  assert.equal(gotTopic, topic);
  assert.equal(payload.toString(), `via ${topic}`);
}

/**
 * A client that must not get through: it never sees CONNACK, and its connection ends.
 * Resolves with the error it reported, if any.
 */
async function refused(url: string, options: IClientOptions): Promise<Error | undefined> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  let error: Error | undefined;
  let connected = false;
  client.on('error', (err) => (error ??= err));
  client.on('connect', () => (connected = true));
  try {
    // Not waitEvent: events.once rejects on the 'error' that comes first.
    await within(new Promise<void>((resolve) => client.once('close', () => resolve())), 10_000, `${url} to close the refused client`);
    assert.equal(connected, false, `${url} accepted a client it should have refused`);
    return error;
  } finally {
    client.end(true);
  }
}

test('mqtts:// and wss:// present the development certificate: a client trusting it gets through', needs, async () => {
  const pub = await connectClient(gw.mqttsUrl, { ca: gw.ca });
  const sub = await connectClient(gw.wssUrl, { ca: gw.ca });
  try {
    const peer = (pub.stream as TLSSocket).getPeerCertificate();
    assert.equal(peer.subject.CN, DEVELOPMENT_CERT_CN);
    await roundTrip(pub, sub, 'tls/dev-cert');
  } finally {
    await Promise.all([pub.endAsync(), sub.endAsync()]);
  }
});

test('a client that does not trust the development certificate is refused on mqtts:// and wss://', needs, async () => {
  for (const url of [gw.mqttsUrl, gw.wssUrl]) {
    const error = await refused(url, {});
    assert.match((error as NodeJS.ErrnoException | undefined)?.code ?? '', /SELF_SIGNED|UNABLE_TO_VERIFY/, url);
  }
});

test('mTLS (TLS_CLIENT_AUTH=require): a client certificate from TLS_CA is accepted on mqtts:// and wss://; none, or one from another CA, is refused', needs, async () => {
  const ca = makeCa('gateway test client CA');
  const stranger = makeCa('some other CA');
  const mtls = await startGateway({
    BROKER_URL: broker.url,
    TLS_CLIENT_AUTH: 'require',
    TLS_CA: writeFile('client-ca.crt', ca.certPem),
  });
  const clients: MqttClient[] = [];
  try {
    const withCert = (cert: TestCertificate): IClientOptions => ({ ca: mtls.ca, cert: cert.certPem, key: cert.keyPem });
    const alice = issueClientCert(ca, 'alice');
    const pub = await connectClient(mtls.mqttsUrl, withCert(alice));
    clients.push(pub);
    const sub = await connectClient(mtls.wssUrl, withCert(alice));
    clients.push(sub);
    await roundTrip(pub, sub, 'tls/mtls');

    const mallory = issueClientCert(stranger, 'mallory');
    for (const url of [mtls.mqttsUrl, mtls.wssUrl]) {
      const error = (await refused(url, { ca: mtls.ca })) as NodeJS.ErrnoException | undefined;
      assert.equal(error?.code, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', url);
      await refused(url, withCert(mallory));
    }
  } finally {
    await Promise.all(clients.map((c) => c.endAsync()));
    await mtls.close();
  }
});

test('a TLS backend (BROKER_URL=mqtts://localhost, BROKER_CA): messages cross; with the wrong BROKER_CA the client is refused', needs, async () => {
  // The gateway's development certificate names localhost; Mosquitto serves it, the gateway trusts it.
  // Copies readable by all: Mosquitto started as root reads them after switching to its own user.
  fs.chmodSync(dir, 0o755);
  const certFile = writeFile('broker.crt', fs.readFileSync(path.join(gw.certsDir, 'server.crt')));
  const keyFile = writeFile('broker.key', fs.readFileSync(path.join(gw.certsDir, 'server.key')));
  for (const file of [certFile, keyFile]) fs.chmodSync(file, 0o644);
  const tlsBroker = await startMosquitto({ tls: { certFile, keyFile } });
  const bridged = await startGateway({ BROKER_URL: `mqtts://localhost:${tlsBroker.port}`, BROKER_CA: certFile });
  const wrong = await startGateway({
    BROKER_URL: `mqtts://localhost:${tlsBroker.port}`,
    BROKER_CA: writeFile('wrong-ca.crt', makeCa('not the broker CA').certPem),
  });
  const clients: MqttClient[] = [];
  let raw: RawWsClient | undefined;
  try {
    const pub = await connectClient(bridged.wsUrl);
    clients.push(pub);
    const sub = await connectClient(bridged.mqttUrl, { protocolVersion: 5 });
    clients.push(sub);
    await roundTrip(pub, sub, 'tls/backend');

    await refused(wrong.wsUrl, {});
    raw = await RawWsClient.open(wrong.wsUrl);
    raw.send(connectBytes('wrong-ca'));
    const close = await within(raw.closed, 5000, 'the client to be refused');
    assert.ok([1011, 1013].includes(close.code), `close code ${close.code}`);
    assert.equal(raw.log.count('connack'), 0);
    const line = wrong.logs.find((l) => l.msg === 'upstream refused the client');
    assert.match(String(line?.err), /certificate/i);
  } finally {
    raw?.ws.terminate();
    await Promise.all(clients.map((c) => c.endAsync()));
    await bridged.close();
    await wrong.close();
    await tlsBroker.stop();
  }
});
