import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PP2,
  V2_SIGNATURE,
  encodeProxyV1,
  encodeProxyV2,
  parseProxyHeader,
  proxyHeaderFor,
  sslCommonName,
  type ProxyHeader,
} from '../../../src/net/proxy-protocol.js';

const v4 = { source: { address: '192.0.2.10', port: 51000 }, destination: { address: '198.51.100.1', port: 1883 } };
const v6 = { source: { address: '2001:db8::1', port: 4711 }, destination: { address: '2001:db8:0:0:1::2', port: 8883 } };

function parsed(bytes: Buffer): ProxyHeader {
  const result = parseProxyHeader(bytes);
  assert.equal(result.status, 'done');
  return (result as { header: ProxyHeader }).header;
}

test('v1 encodes TCP4, TCP6, mixed families (as IPv6) and UNKNOWN', () => {
  assert.equal(encodeProxyV1(v4).toString(), 'PROXY TCP4 192.0.2.10 198.51.100.1 51000 1883\r\n');
  assert.equal(encodeProxyV1(v6).toString(), 'PROXY TCP6 2001:db8::1 2001:db8:0:0:1::2 4711 8883\r\n');
  const mixed = { source: { address: '192.0.2.10', port: 1 }, destination: { address: '::1', port: 2 } };
  assert.equal(encodeProxyV1(mixed).toString(), 'PROXY TCP6 ::ffff:192.0.2.10 ::1 1 2\r\n');
  const unknown = { source: { address: 'unknown', port: null }, destination: v4.destination };
  assert.equal(encodeProxyV1(unknown).toString(), 'PROXY UNKNOWN\r\n');
});

test('v2 TCP4 is byte-exact', () => {
  const bytes = encodeProxyV2({ source: { address: '127.0.0.1', port: 1234 }, destination: { address: '127.0.0.2', port: 80 } });
  const expected = Buffer.concat([
    V2_SIGNATURE,
    Buffer.from([0x21, 0x11, 0x00, 0x0c, 127, 0, 0, 1, 127, 0, 0, 2, 0x04, 0xd2, 0x00, 0x50]),
  ]);
  assert.deepEqual(bytes, expected);
});

test('v2 TCP6 expands "::" and an IPv4 tail', () => {
  const bytes = encodeProxyV2({ source: { address: '::ffff:10.0.0.1', port: 1 }, destination: { address: 'fe80::1:2', port: 2 } });
  assert.equal(bytes[13], PP2.tcp6);
  assert.equal(bytes.readUInt16BE(14), 36);
  assert.equal(bytes.subarray(16, 32).toString('hex'), '00000000000000000000ffff0a000001');
  assert.equal(bytes.subarray(32, 48).toString('hex'), 'fe800000000000000000000000010002');
});

test('v2 with a client certificate carries PP2_TYPE_SSL with PP2_SUBTYPE_SSL_CN', () => {
  const bytes = encodeProxyV2(v4, { commonName: 'device-42' });
  const header = parsed(bytes);
  assert.equal(header.length, bytes.length);
  const ssl = header.tlvs.find((t) => t.type === PP2.typeSsl);
  assert.ok(ssl);
  assert.equal(ssl.value[0], PP2.clientSsl | PP2.clientCertConn);
  assert.equal(ssl.value.readUInt32BE(1), 0);
  assert.equal(sslCommonName(header.tlvs), 'device-42');
});

test('round trips: what we write we read, v1 and v2, IPv4 and IPv6', () => {
  const canonical = { ...v6, destination: { ...v6.destination, address: '2001:db8::1:0:0:2' } };
  assert.deepEqual(parsed(encodeProxyV1(v4)).addresses, v4);
  assert.deepEqual(parsed(encodeProxyV2(v4)).addresses, v4);
  assert.deepEqual(parsed(encodeProxyV1(v6)).addresses, v6);
  // v2 carries bytes; they are read back in the RFC 5952 form (the first longest zero run becomes "::").
  assert.deepEqual(parsed(encodeProxyV2(v6)).addresses, canonical);
});

test('fed one byte at a time, the header is incomplete until its last byte, then done with the rest untouched', () => {
  const mqtt = Buffer.from([0x10, 0x00]);
  for (const header of [encodeProxyV1(v4), encodeProxyV2(v6, { commonName: 'x' })]) {
    const all = Buffer.concat([header, mqtt]);
    for (let n = 1; n < header.length; n++) assert.equal(parseProxyHeader(all.subarray(0, n)).status, 'incomplete', `at ${n}`);
    for (let n = header.length; n <= all.length; n++) assert.equal(parsed(all.subarray(0, n)).length, header.length);
  }
});

test('MQTT bytes are not a PROXY header: absent at the first byte', () => {
  assert.equal(parseProxyHeader(Buffer.from([0x10])).status, 'absent');
  assert.equal(parseProxyHeader(Buffer.from('PROXZ')).status, 'absent');
});

test('malformed headers throw', () => {
  assert.throws(() => parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 nope 1 2\r\n')), { code: 'ERR_PROXY_PROTOCOL' });
  assert.throws(() => parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n')), { code: 'ERR_PROXY_PROTOCOL' });
  assert.throws(() => parseProxyHeader(Buffer.from(`PROXY ${'x'.repeat(120)}`)), { code: 'ERR_PROXY_PROTOCOL' });
  const badVersion = Buffer.concat([V2_SIGNATURE, Buffer.from([0x31, 0x11, 0, 0])]);
  assert.throws(() => parseProxyHeader(badVersion), { code: 'ERR_PROXY_PROTOCOL' });
  const shortAddresses = Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0, 4, 1, 2, 3, 4])]);
  assert.throws(() => parseProxyHeader(shortAddresses), { code: 'ERR_PROXY_PROTOCOL' });
});

test('v2 LOCAL (a health check from the proxy itself) names no client', () => {
  const local = Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0, 0])]);
  assert.equal(parsed(local).addresses, null);
});

test('proxyHeaderFor: off, v1, v2, and unknown addresses', () => {
  assert.equal(proxyHeaderFor('off', { addresses: v4 }), null);
  assert.equal(proxyHeaderFor('v1', { addresses: v4 })?.toString(), encodeProxyV1(v4).toString());
  assert.deepEqual(proxyHeaderFor('v2', { addresses: v4, peerCertificateSubject: 'cn' }), encodeProxyV2(v4, { commonName: 'cn' }));
  assert.equal(proxyHeaderFor('v1', {})?.toString(), 'PROXY UNKNOWN\r\n');
  assert.equal(proxyHeaderFor('v2', {})?.[13], PP2.unspec);
});
