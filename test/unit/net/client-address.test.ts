import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { forwardedHops, formatEndpoint, parseHop, upgradeAddress } from '../../../src/net/client-address.js';
import { TrustedProxies } from '../../../src/net/trusted-proxies.js';

function request(peer: string, headers: Record<string, string>): IncomingMessage {
  const socket = { remoteAddress: peer, remotePort: 40000, localAddress: '10.0.0.1', localPort: 8080 } as Socket;
  return { socket, headers } as unknown as IncomingMessage;
}

const trusted = new TrustedProxies(['10.0.0.0/8', 'fd00::/8']);

test('X-Forwarded-For from a trusted peer: the first untrusted hop from our side is the client', () => {
  const found = upgradeAddress(request('10.0.0.5', { 'x-forwarded-for': '6.6.6.6, 203.0.113.7, 10.0.0.9' }), trusted);
  assert.deepEqual(found.addresses.source, { address: '203.0.113.7', port: null });
  assert.equal(found.via, 'x-forwarded-for');
  assert.deepEqual(found.addresses.destination, { address: '10.0.0.1', port: 8080 });
});

test('X-Forwarded-For from an untrusted peer is ignored, and says so', () => {
  const found = upgradeAddress(request('198.51.100.1', { 'x-forwarded-for': '1.2.3.4' }), trusted);
  assert.deepEqual(found.addresses.source, { address: '198.51.100.1', port: 40000 });
  assert.match(found.ignored ?? '', /untrusted peer 198\.51\.100\.1/);
});

test('Forwarded (RFC 7239) wins over X-Forwarded-For and carries ports and IPv6', () => {
  const headers = { forwarded: 'for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.3', 'x-forwarded-for': '9.9.9.9' };
  const found = upgradeAddress(request('10.0.0.5', headers), trusted);
  assert.deepEqual(found.addresses.source, { address: '2001:db8:cafe::17', port: 4711 });
  assert.equal(found.via, 'forwarded');
});

test('every hop trusted: the leftmost is the client', () => {
  const found = upgradeAddress(request('10.0.0.5', { 'x-forwarded-for': '10.1.1.1, 10.2.2.2' }), trusted);
  assert.equal(found.addresses.source.address, '10.1.1.1');
});

test('an unusable hop (unknown, obfuscated, garbage) keeps the peer address', () => {
  for (const header of ['unknown', '_hidden', 'not an ip', '']) {
    const found = upgradeAddress(request('10.0.0.5', { 'x-forwarded-for': header }), trusted);
    assert.equal(found.addresses.source.address, '10.0.0.5', header);
  }
  const forwarded = upgradeAddress(request('10.0.0.5', { forwarded: 'for=unknown' }), trusted);
  assert.equal(forwarded.addresses.source.address, '10.0.0.5');
  assert.ok(forwarded.ignored);
});

test('hops: with and without ports, bracketed IPv6, mapped IPv4', () => {
  assert.deepEqual(parseHop('1.2.3.4:5678'), { address: '1.2.3.4', port: 5678 });
  assert.deepEqual(parseHop('[::1]:80'), { address: '::1', port: 80 });
  assert.deepEqual(parseHop('2001:db8::1'), { address: '2001:db8::1', port: null });
  assert.deepEqual(parseHop('::ffff:1.2.3.4'), { address: '1.2.3.4', port: null });
  assert.equal(parseHop('1.2.3.4:x'), null);
  assert.deepEqual(forwardedHops('for=1.1.1.1;by=2.2.2.2, for="[::2]"'), [
    { address: '1.1.1.1', port: null },
    { address: '::2', port: null },
  ]);
});

test('formatEndpoint: the remote log field', () => {
  assert.equal(formatEndpoint({ address: '1.2.3.4', port: 5 }), '1.2.3.4:5');
  assert.equal(formatEndpoint({ address: '::1', port: 5 }), '[::1]:5');
  assert.equal(formatEndpoint({ address: '1.2.3.4', port: null }), '1.2.3.4');
});
