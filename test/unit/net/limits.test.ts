import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionLimiter } from '../../../src/net/limits.js';

function limiter(options: { max?: number; rate?: number; burst?: number }) {
  let now = 0;
  const l = new ConnectionLimiter({
    maxConnectionsPerIp: options.max ?? 0,
    connectionRatePerIp: options.rate ?? 0,
    connectionBurstPerIp: options.burst ?? 1,
    now: () => now,
  });
  return { l, advance: (ms: number) => (now += ms) };
}

test('open connections per address are capped; a release frees a place; other addresses are unaffected', () => {
  const { l } = limiter({ max: 2 });
  assert.equal(l.admit('a'), null);
  assert.equal(l.admit('a'), null);
  assert.equal(l.admit('a'), 'perIpConnections');
  assert.equal(l.admit('b'), null);
  l.release('a');
  assert.equal(l.admit('a'), null);
  assert.equal(l.openFrom('a'), 2);
  assert.deepEqual(l.snapshot(), { admitted: 4, perIpConnections: 1, perIpRate: 0, handshakeTimeouts: 0 });
  l.close();
});

test('token bucket: a burst at once, then the rate per second', () => {
  const { l, advance } = limiter({ rate: 2, burst: 3 });
  for (let i = 0; i < 3; i++) assert.equal(l.admit('a'), null, `burst ${i}`);
  assert.equal(l.admit('a'), 'perIpRate');
  assert.equal(l.admit('b'), null);
  advance(499);
  assert.equal(l.admit('a'), 'perIpRate');
  advance(1);
  assert.equal(l.admit('a'), null);
  assert.equal(l.admit('a'), 'perIpRate');
  advance(10_000);
  for (let i = 0; i < 3; i++) assert.equal(l.admit('a'), null, `refilled ${i}`);
  assert.equal(l.admit('a'), 'perIpRate');
  l.close();
});

test('no limits configured: everything is admitted', () => {
  const { l } = limiter({});
  for (let i = 0; i < 1000; i++) assert.equal(l.admit('a'), null);
  l.close();
});

test('refusals reach the onRefused hook', () => {
  const { l } = limiter({ max: 1 });
  const seen: string[] = [];
  l.onRefused = (refusal, address) => seen.push(`${refusal} ${address}`);
  l.admit('x');
  l.admit('x');
  assert.deepEqual(seen, ['perIpConnections x']);
  l.close();
});
