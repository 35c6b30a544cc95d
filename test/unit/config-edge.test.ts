import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

test('identity, limits and scale-out: defaults', () => {
  const config = loadConfig({});
  assert.deepEqual(config.brokers, []);
  assert.equal(config.brokerHealthIntervalMs, 5000);
  assert.equal(config.brokerProxyProtocol, 'off');
  assert.deepEqual(config.trustedProxies, []);
  assert.equal(config.proxyProtocol, false);
  assert.equal(config.maxConnectionsPerIp, 0);
  assert.equal(config.connectionRatePerIp, 0);
  assert.equal(config.connectionBurstPerIp, 10);
  assert.equal(config.maxPreAuthPacketSize, 65536);
  assert.equal(config.handshakeTimeoutMs, 10000);
  assert.equal(config.wsPingIntervalMs, 30000);
  assert.equal(config.proxyIdleTimeoutS, 60);
  assert.equal(config.authMode, 'none');
  assert.equal(config.jwtCookie, 'access_token');
  assert.equal(config.jwtUsernameClaim, 'sub');
  assert.equal(config.jwtPubClaim, 'mqtt_pub');
  assert.equal(config.jwtSubClaim, 'mqtt_sub');
  assert.equal(config.connectRewrite, false);
});

test('BROKER_URL lists several brokers; `broker` stays the first', () => {
  const config = loadConfig({ BROKER_URL: 'mqtt://a:1883, mqtts://b , mqtt://[::1]:1884' });
  assert.deepEqual(config.brokers, [
    { tls: false, host: 'a', port: 1883 },
    { tls: true, host: 'b', port: 8883 },
    { tls: false, host: '::1', port: 1884 },
  ]);
  assert.deepEqual(config.broker, config.brokers[0]);
});

test('MAX_PRE_AUTH_PACKET_SIZE never exceeds MAX_PACKET_SIZE', () => {
  assert.equal(loadConfig({ MAX_PACKET_SIZE: '1000', MAX_PRE_AUTH_PACKET_SIZE: '5000' }).maxPreAuthPacketSize, 1000);
});

test('bad values are all named in one error', () => {
  assert.throws(
    () =>
      loadConfig({
        TRUSTED_PROXIES: '10.0.0.0/8, nonsense',
        BROKER_PROXY_PROTOCOL: 'v3',
        AUTH_MODE: 'jwt',
        BROKER_URL: 'mqtt://ok, http://bad',
        WS_PING_INTERVAL_MS: '-1',
      }),
    (err: ConfigError) => {
      const text = err.problems.join('\n');
      for (const name of ['TRUSTED_PROXIES', 'BROKER_PROXY_PROTOCOL', 'AUTH_MODE=jwt', 'BROKER_URL', 'WS_PING_INTERVAL_MS']) {
        assert.match(text, new RegExp(name), name);
      }
      return true;
    },
  );
});
