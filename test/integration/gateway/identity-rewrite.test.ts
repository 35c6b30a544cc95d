import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import mqttPacket, { type IConnectPacket, type IConnackPacket, type Packet } from 'mqtt-packet';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { RecordingBackend } from '../../helpers/recording-backend.js';
import { PacketLog } from '../../helpers/raw-mqtt.js';
import { tcpFrom, wsHandshake } from '../../helpers/edge-clients.js';
import { makeCa, issueClientCert, type TestCertificate } from '../../helpers/pki.js';
import { makeTokenKeys, token, type TokenKeys } from '../../helpers/tokens.js';
import { waitEvent } from '../../helpers/wait.js';

/**
 * CONNECT_REWRITE: the broker behind sees the proven identity (the token's sub, or the client
 * certificate's CN) as the user name, and no password; the rest of the CONNECT (MQTT 5 properties
 * included) is as the client sent it. AUTH_MODE=mtls and jwt-or-mtls accept a verified certificate.
 * The backend here only records, and the test decodes the CONNECT it received.
 */

let backend: RecordingBackend;
let keys: TokenKeys;
let cert: TestCertificate;
let caFile: string;
let rewriting: TestGateway;
let mtlsOnly: TestGateway;
const cleanup: (() => void)[] = [];

before(async () => {
  backend = await RecordingBackend.start();
  keys = await makeTokenKeys();
  const ca = makeCa();
  cert = issueClientCert(ca, 'device-9');
  caFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rewrite-ca-')), 'ca.crt');
  fs.writeFileSync(caFile, ca.certPem);
  const common = { BROKER_URL: backend.url, TLS_CLIENT_AUTH: 'optional', TLS_CA: caFile };
  rewriting = await startGateway({ ...common, AUTH_MODE: 'jwt-or-mtls', JWT_JWKS_FILE: keys.jwksFile, CONNECT_REWRITE: 'true' });
  mtlsOnly = await startGateway({ ...common, AUTH_MODE: 'mtls' });
});
after(async () => {
  for (const close of cleanup) close();
  await rewriting?.close();
  await mtlsOnly?.close();
  await backend?.close();
});

const v5Connect = mqttPacket.generate(
  {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 5,
    clientId: 'rewrite-5',
    clean: false,
    keepalive: 20,
    username: 'claimed-name',
    password: Buffer.from('claimed-password'),
    will: { topic: 'wills/rewrite', payload: Buffer.from('bye'), qos: 1, retain: false, properties: { willDelayInterval: 5 } },
    properties: { sessionExpiryInterval: 300, receiveMaximum: 10, userProperties: { site: 'north' } },
  },
  { protocolVersion: 5 },
);

const v4Connect = mqttPacket.generate(
  { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'rewrite-4', clean: true, keepalive: 20, username: 'claimed', password: Buffer.from('pw') },
  { protocolVersion: 4 },
);

/** The CONNECT the backend received on its `index`-th connection, decoded by the test. */
async function forwardedConnect(index: number): Promise<IConnectPacket> {
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  const got = new Promise<Packet>((resolve) => parser.once('packet', resolve));
  const recorded = await backend.received(index, 2);
  parser.parse(recorded.bytes);
  recorded.socket.on('data', (chunk: Buffer) => parser.parse(chunk));
  return (await got) as IConnectPacket;
}

function mqtts(gw: TestGateway, withCert: boolean): Promise<tls.TLSSocket> {
  const socket = tls.connect({
    port: gw.ports.mqtts as number,
    host: '127.0.0.1',
    servername: 'localhost',
    ca: gw.ca,
    ...(withCert && { cert: cert.certPem, key: cert.keyPem }),
  });
  socket.on('error', () => {});
  cleanup.push(() => socket.destroy());
  return waitEvent(socket, 'secureConnect').then(() => socket);
}

test('an ES256 token (JWKS) at the handshake: the backend sees sub as user name, no password, MQTT 5 properties and will intact', async () => {
  const index = backend.connections.length;
  const jwt = await token(keys, { alg: 'ES256', claims: { sub: 'alice' } });
  const handshake = await wsHandshake(rewriting.wsUrl, { headers: { Authorization: `Bearer ${jwt}` } });
  assert.ok(handshake.ws);
  cleanup.push(() => handshake.ws.terminate());
  handshake.ws.send(v5Connect);
  const forwarded = await forwardedConnect(index);
  assert.equal(forwarded.username, 'alice');
  assert.equal(forwarded.password, undefined);
  assert.equal(forwarded.clientId, 'rewrite-5');
  assert.equal(forwarded.clean, false);
  assert.equal(forwarded.keepalive, 20);
  assert.equal(forwarded.protocolVersion, 5);
  const { userProperties, ...properties } = forwarded.properties ?? {};
  assert.deepEqual(properties, { sessionExpiryInterval: 300, receiveMaximum: 10 });
  assert.deepEqual({ ...userProperties }, { site: 'north' });
  assert.equal(forwarded.will?.topic, 'wills/rewrite');
  assert.equal(forwarded.will?.payload.toString(), 'bye');
  assert.deepEqual(forwarded.will?.properties, { willDelayInterval: 5 });
});

test('a verified client certificate over MQTTS: the backend sees its CN as user name', async () => {
  const index = backend.connections.length;
  const socket = await mqtts(rewriting, true);
  socket.write(v4Connect);
  const forwarded = await forwardedConnect(index);
  assert.equal(forwarded.username, 'device-9');
  assert.equal(forwarded.password, undefined);
  assert.equal(forwarded.clientId, 'rewrite-4');
});

test('a token as the CONNECT password (raw TCP): replaced by the sub claim, password dropped', async () => {
  const index = backend.connections.length;
  const peer = await tcpFrom(rewriting.ports.mqtt as number);
  cleanup.push(() => peer.socket.destroy());
  const jwt = await token(keys, { alg: 'ES256', claims: { sub: 'bob' } });
  peer.socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'pw-rewrite', clean: true, keepalive: 20, username: 'x', password: Buffer.from(jwt) }, { protocolVersion: 4 }));
  const forwarded = await forwardedConnect(index);
  assert.equal(forwarded.username, 'bob');
  assert.equal(forwarded.password, undefined);
});

test('jwt-or-mtls: neither a token nor a certificate gets CONNACK 5, and nothing reaches the backend', async () => {
  const before = backend.connections.length;
  const peer = await tcpFrom(rewriting.ports.mqtt as number);
  cleanup.push(() => peer.socket.destroy());
  peer.socket.write(v4Connect);
  const connack = await peer.log.first<IConnackPacket>('connack');
  assert.equal(connack.returnCode, 5);
  await peer.closed;
  assert.equal(backend.connections.length, before);
});

test('AUTH_MODE=mtls: a certificate gets through, unchanged (no rewrite)', async () => {
  const index = backend.connections.length;
  const socket = await mqtts(mtlsOnly, true);
  socket.write(v4Connect);
  const forwarded = await forwardedConnect(index);
  assert.equal(forwarded.username, 'claimed');
  assert.equal(forwarded.password?.toString(), 'pw');
});

test('AUTH_MODE=mtls: no certificate over MQTTS or TCP gets CONNACK 5; over WebSocket a 401', async () => {
  const socket = await mqtts(mtlsOnly, false);
  const log = new PacketLog(4);
  socket.on('data', (chunk: Buffer) => log.push(chunk));
  socket.write(v4Connect);
  assert.equal((await log.first<IConnackPacket>('connack')).returnCode, 5);
  const peer = await tcpFrom(mtlsOnly.ports.mqtt as number);
  cleanup.push(() => peer.socket.destroy());
  peer.socket.write(v4Connect);
  assert.equal((await peer.log.first<IConnackPacket>('connack')).returnCode, 5);
  assert.equal((await wsHandshake(mtlsOnly.wsUrl)).status, 401);
});
