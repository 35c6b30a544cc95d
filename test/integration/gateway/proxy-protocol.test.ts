import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { RecordingBackend } from '../../helpers/recording-backend.js';
import { connectBytes } from '../../helpers/raw-mqtt.js';
import { tcpFrom, logLines, type TcpPeer } from '../../helpers/edge-clients.js';
import { makeCa, issueClientCert } from '../../helpers/pki.js';
import { waitEvent, waitFor } from '../../helpers/wait.js';

/**
 * PROXY protocol both ways. Outgoing (BROKER_PROXY_PROTOCOL): the backend reads a v1 or v2 header
 * naming the real client before the CONNECT; this test checks the bytes with its own parser.
 * Incoming (PROXY_PROTOCOL): a header from a trusted peer sets the client's address; from anyone
 * else it is ignored, and said so.
 */

const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const connect = connectBytes('pp-client');
let backend: RecordingBackend;
const peers: TcpPeer[] = [];
const gateways: TestGateway[] = [];

before(async () => {
  backend = await RecordingBackend.start();
});
after(async () => {
  await Promise.all(peers.map((peer) => peer.close()));
  await Promise.all(gateways.map((gw) => gw.close()));
  await backend.close();
});

async function gateway(env: Record<string, string>): Promise<TestGateway> {
  const gw = await startGateway({ BROKER_URL: backend.url, ...env });
  gateways.push(gw);
  return gw;
}

async function peer(port: number, from = '127.0.0.1'): Promise<TcpPeer> {
  const p = await tcpFrom(port, from);
  peers.push(p);
  return p;
}

/** The test's own v1 reader: the line, split. */
function readV1(bytes: Buffer): { fields: string[]; rest: Buffer } {
  const end = bytes.indexOf('\r\n');
  assert.ok(end > 0, 'a v1 line ending in CRLF');
  return { fields: bytes.toString('latin1', 0, end).split(' '), rest: bytes.subarray(end + 2) };
}

test('BROKER_PROXY_PROTOCOL=v1: the backend reads "PROXY TCP4 <client> <gateway> <ports>" and then the CONNECT', async () => {
  const gw = await gateway({ BROKER_PROXY_PROTOCOL: 'v1' });
  const index = backend.connections.length;
  const client = await peer(gw.ports.mqtt as number, '127.0.0.2');
  client.socket.write(connect);
  const expectedLength = `PROXY TCP4 127.0.0.2 127.0.0.1 ${client.socket.localPort} ${gw.ports.mqtt}\r\n`.length + connect.length;
  const { bytes } = await backend.received(index, expectedLength);
  const { fields, rest } = readV1(bytes);
  assert.deepEqual(fields, ['PROXY', 'TCP4', '127.0.0.2', '127.0.0.1', String(client.socket.localPort), String(gw.ports.mqtt)]);
  assert.deepEqual(rest, connect);
});

test('BROKER_PROXY_PROTOCOL=v2 over MQTTS with a client certificate: addresses, ports and PP2_SUBTYPE_SSL_CN, byte by byte', async () => {
  const ca = makeCa();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-ca-'));
  fs.writeFileSync(path.join(dir, 'ca.crt'), ca.certPem);
  const cert = issueClientCert(ca, 'device-7');
  const gw = await gateway({ BROKER_PROXY_PROTOCOL: 'v2', TLS_CLIENT_AUTH: 'require', TLS_CA: path.join(dir, 'ca.crt') });
  const index = backend.connections.length;
  const socket = tls.connect({ port: gw.ports.mqtts as number, host: '127.0.0.1', servername: 'localhost', ca: gw.ca, cert: cert.certPem, key: cert.keyPem });
  socket.on('error', () => {});
  await waitEvent(socket, 'secureConnect');
  socket.write(connect);
  try {
    const cn = Buffer.from('device-7');
    const tlvLength = 3 + 5 + 3 + cn.length;
    const { bytes } = await backend.received(index, 16 + 12 + tlvLength + connect.length);
    assert.deepEqual(bytes.subarray(0, 12), SIGNATURE);
    assert.equal(bytes[12], 0x21, 'version 2, command PROXY');
    assert.equal(bytes[13], 0x11, 'TCP over IPv4');
    assert.equal(bytes.readUInt16BE(14), 12 + tlvLength);
    assert.deepEqual([...bytes.subarray(16, 20)], [127, 0, 0, 1], 'source address');
    assert.deepEqual([...bytes.subarray(20, 24)], [127, 0, 0, 1], 'destination address');
    assert.equal(bytes.readUInt16BE(24), socket.localPort, 'source port');
    assert.equal(bytes.readUInt16BE(26), gw.ports.mqtts, 'destination port');
    const tlv = bytes.subarray(28, 28 + tlvLength);
    assert.equal(tlv[0], 0x20, 'PP2_TYPE_SSL');
    assert.equal(tlv.readUInt16BE(1), tlvLength - 3);
    assert.equal(tlv[3], 0x01 | 0x02, 'PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN');
    assert.equal(tlv.readUInt32BE(4), 0, 'verify: 0, the certificate was verified');
    assert.equal(tlv[8], 0x22, 'PP2_SUBTYPE_SSL_CN');
    assert.equal(tlv.readUInt16BE(9), cn.length);
    assert.deepEqual(tlv.subarray(11), cn);
    assert.deepEqual(bytes.subarray(28 + tlvLength), connect);
  } finally {
    socket.destroy();
  }
});

test('BROKER_PROXY_PROTOCOL=v2 without a certificate: no TLV, just the addresses', async () => {
  const gw = await gateway({ BROKER_PROXY_PROTOCOL: 'v2' });
  const index = backend.connections.length;
  const client = await peer(gw.ports.mqtt as number);
  client.socket.write(connect);
  const { bytes } = await backend.received(index, 28 + connect.length);
  assert.deepEqual(bytes.subarray(0, 12), SIGNATURE);
  assert.equal(bytes.readUInt16BE(14), 12);
  assert.equal(bytes.readUInt16BE(24), client.socket.localPort);
  assert.deepEqual(bytes.subarray(28), connect);
});

test('PROXY_PROTOCOL: a v1 header from a trusted peer sets the remote, and the backend hears of that client', async () => {
  const gw = await gateway({ PROXY_PROTOCOL: 'true', TRUSTED_PROXIES: '127.0.0.1/32', BROKER_PROXY_PROTOCOL: 'v1' });
  const index = backend.connections.length;
  const lb = await peer(gw.ports.mqtt as number);
  lb.socket.write(Buffer.concat([Buffer.from('PROXY TCP4 198.51.100.7 203.0.113.1 5555 1883\r\n'), connect]));
  const line = await waitFor(() => logLines(gw.logs, 'client connected', { clientId: 'pp-client' })[0], 'the client connected line');
  assert.equal(line.remote, '198.51.100.7:5555');
  const { bytes } = await backend.received(index, 'PROXY TCP4 198.51.100.7 203.0.113.1 5555 1883\r\n'.length + connect.length);
  assert.deepEqual(readV1(bytes).fields, ['PROXY', 'TCP4', '198.51.100.7', '203.0.113.1', '5555', '1883']);
});

test('PROXY_PROTOCOL: a v2 header (IPv6 client) from a trusted peer sets the remote', async () => {
  const gw = await gateway({ PROXY_PROTOCOL: 'true', TRUSTED_PROXIES: '127.0.0.0/8' });
  const header = Buffer.concat([
    SIGNATURE,
    Buffer.from([0x21, 0x21, 0x00, 36]),
    Buffer.from('20010db8000000000000000000000042', 'hex'),
    Buffer.from('20010db8000000000000000000000001', 'hex'),
    Buffer.from([0x1f, 0x90, 0x07, 0x5b]),
  ]);
  const lb = await peer(gw.ports.mqtt as number, '127.0.0.2');
  // Header and CONNECT in separate writes: the header may arrive in pieces.
  lb.socket.write(header.subarray(0, 7));
  lb.socket.write(Buffer.concat([header.subarray(7), connect]));
  const line = await waitFor(() => logLines(gw.logs, 'client connected', { clientId: 'pp-client' })[0], 'the client connected line');
  assert.equal(line.remote, '[2001:db8::42]:8080');
});

test('PROXY_PROTOCOL: a header from an untrusted peer is ignored (logged), and the peer is the client', async () => {
  const gw = await gateway({ PROXY_PROTOCOL: 'true', TRUSTED_PROXIES: '127.0.0.1/32' });
  const spoofer = await peer(gw.ports.mqtt as number, '127.0.0.2');
  spoofer.socket.write(Buffer.concat([Buffer.from('PROXY TCP4 10.10.10.10 127.0.0.1 1 2\r\n'), connect]));
  const line = await waitFor(() => logLines(gw.logs, 'client connected', { clientId: 'pp-client' })[0], 'the client connected line');
  assert.equal(line.remote, `127.0.0.2:${spoofer.socket.localPort}`);
  const ignored = logLines(gw.logs, 'PROXY header ignored');
  assert.equal(ignored.length, 1);
  assert.match(String(ignored[0]?.reason), /untrusted peer 127\.0\.0\.2/);
});

test('PROXY_PROTOCOL: a trusted peer may also connect without a header (its own address is used)', async () => {
  const gw = await gateway({ PROXY_PROTOCOL: 'true', TRUSTED_PROXIES: '127.0.0.1/32' });
  const direct = await peer(gw.ports.mqtt as number);
  direct.socket.write(connect);
  const line = await waitFor(() => logLines(gw.logs, 'client connected', { clientId: 'pp-client' })[0], 'the client connected line');
  assert.equal(line.remote, `127.0.0.1:${direct.socket.localPort}`);
});

test('PROXY_PROTOCOL over MQTTS: the header precedes the TLS handshake', async () => {
  const gw = await gateway({ PROXY_PROTOCOL: 'true', TRUSTED_PROXIES: '127.0.0.1/32' });
  const lb = await peer(gw.ports.mqtts as number);
  lb.socket.write('PROXY TCP4 192.0.2.44 127.0.0.1 4444 8883\r\n');
  const secure = tls.connect({ socket: lb.socket, servername: 'localhost', ca: gw.ca });
  secure.on('error', () => {});
  await waitEvent(secure, 'secureConnect');
  secure.write(connect);
  const line = await waitFor(() => logLines(gw.logs, 'client connected', { clientId: 'pp-client' })[0], 'the client connected line');
  assert.equal(line.remote, '192.0.2.44:4444');
  assert.equal(line.transport, 'tls');
  secure.destroy();
});

test('PROXY_PROTOCOL: a malformed header is refused', async () => {
  const gw = await gateway({ PROXY_PROTOCOL: 'true', TRUSTED_PROXIES: '127.0.0.1/32' });
  const bad = await peer(gw.ports.mqtt as number);
  bad.socket.write('PROXY TCP4 not-an-address\r\n');
  await bad.closed;
  assert.ok(logLines(gw.logs, 'connection refused').some((line) => /malformed PROXY v1 line/.test(String(line.reason))));
});
