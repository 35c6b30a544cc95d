import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TrustedProxies, checkCidrs, plainAddress } from '../../../src/net/trusted-proxies.js';

test('IPv4 and IPv6 ranges match their addresses; IPv4-mapped IPv6 matches the IPv4 range', () => {
  const trusted = new TrustedProxies(['10.0.0.0/8', '192.168.1.7', 'fd00::/8', '::1']);
  assert.equal(trusted.has('10.1.2.3'), true);
  assert.equal(trusted.has('11.0.0.1'), false);
  assert.equal(trusted.has('192.168.1.7'), true);
  assert.equal(trusted.has('192.168.1.8'), false);
  assert.equal(trusted.has('fd12:3456::1'), true);
  assert.equal(trusted.has('fe80::1'), false);
  assert.equal(trusted.has('::1'), true);
  assert.equal(trusted.has('::ffff:10.9.9.9'), true);
  assert.equal(trusted.has('not-an-ip'), false);
});

test('an empty list trusts nobody', () => {
  const trusted = new TrustedProxies([]);
  assert.equal(trusted.has('127.0.0.1'), false);
});

test('bad entries are named', () => {
  assert.equal(checkCidrs(['10.0.0.0/8', '::/0']), null);
  for (const bad of ['10.0.0.0/33', '10.0.0.0/', 'fd00::/129', 'example.com', '1.2.3.4/8/9', '10.0.0.0/x']) {
    assert.match(checkCidrs([bad]) ?? '', /not an IP address or CIDR range/, bad);
  }
});

test('plainAddress says IPv4-mapped addresses as IPv4', () => {
  assert.equal(plainAddress('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(plainAddress('::1'), '::1');
  assert.equal(plainAddress('10.0.0.1'), '10.0.0.1');
});
