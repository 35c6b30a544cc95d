import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { ConfigError } from '../../../src/errors.js';
import { BROKER_DEFAULTS, resolveBrokerOptions, type BrokerOptions } from '../../../src/broker/options.js';

const base: BrokerOptions = { log: pino({ level: 'silent' }), maxPacketSize: 1024, maxQueuedMessages: 10, maxInflightMessages: 5, authFile: null, aclFile: null };

test('broker options: defaults for what is not given (no keep alive cap, 100 000 retained messages and sessions, persistent sessions for ever), caller object untouched', () => {
  const given = { ...base };
  const resolved = resolveBrokerOptions(given);
  assert.equal(resolved.maxKeepAliveSeconds, 0);
  assert.equal(resolved.maxRetainedMessages, 100_000);
  assert.equal(resolved.maxSessions, 100_000);
  assert.equal(resolved.persistentSessionExpirySeconds, 0);
  assert.deepEqual(BROKER_DEFAULTS, { maxKeepAliveSeconds: 0, maxRetainedMessages: 100_000, maxSessions: 100_000, persistentSessionExpirySeconds: 0 });
  assert.equal('maxKeepAliveSeconds' in given, false);
  assert.ok(Object.isFrozen(resolved));
  assert.equal(resolveBrokerOptions({ ...base, maxKeepAliveSeconds: 30, maxRetainedMessages: 0 }).maxKeepAliveSeconds, 30);
});

test('broker options: every value out of range is named in one ConfigError', () => {
  assert.throws(
    () => resolveBrokerOptions({ ...base, maxKeepAliveSeconds: 65_536, maxRetainedMessages: -1 }),
    (err: unknown) => err instanceof ConfigError && err.problems.length === 2 && /maxKeepAliveSeconds/.test(err.message) && /maxRetainedMessages/.test(err.message),
  );
  assert.throws(() => resolveBrokerOptions({ ...base, maxKeepAliveSeconds: 1.5 }), ConfigError);
  assert.throws(
    () => resolveBrokerOptions({ ...base, maxSessions: -1, persistentSessionExpirySeconds: 0xffffffff }),
    (err: unknown) => err instanceof ConfigError && err.problems.length === 2 && /maxSessions/.test(err.message) && /persistentSessionExpirySeconds/.test(err.message),
  );
});

test('broker options: 0 sessions means no limit; the longest persistent session expiry is 0xFFFFFFFE seconds', () => {
  const resolved = resolveBrokerOptions({ ...base, maxSessions: 0, persistentSessionExpirySeconds: 0xfffffffe });
  assert.equal(resolved.maxSessions, 0);
  assert.equal(resolved.persistentSessionExpirySeconds, 0xfffffffe);
});
