import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

test('defaults: ports 80/443/1883/8883, path /mqtt, embedded broker, TLS 1.2', () => {
  const config = loadConfig({});
  assert.equal(config.httpPort, 80);
  assert.equal(config.httpsPort, 443);
  assert.equal(config.mqttPort, 1883);
  assert.equal(config.mqttsPort, 8883);
  assert.deepEqual(config.wsPaths, ['/mqtt']);
  assert.equal(config.broker, null);
  assert.equal(config.tlsMinVersion, 'TLSv1.2');
  assert.equal(config.allowedOrigins, null);
  assert.ok(Object.isFrozen(config));
});

test('an empty port disables that listener', () => {
  const config = loadConfig({ MQTT_PORT: '', HTTPS_PORT: '  ' });
  assert.equal(config.mqttPort, null);
  assert.equal(config.httpsPort, null);
});

test('BROKER_URL: mqtt:// and mqtts:// with default ports and IPv6 hosts', () => {
  assert.deepEqual(loadConfig({ BROKER_URL: 'mqtt://broker' }).broker, { tls: false, host: 'broker', port: 1883 });
  assert.deepEqual(loadConfig({ BROKER_URL: 'mqtts://broker:9999' }).broker, { tls: true, host: 'broker', port: 9999 });
  assert.deepEqual(loadConfig({ BROKER_URL: 'mqtt://[::1]:1884' }).broker, { tls: false, host: '::1', port: 1884 });
});

test('lists: WS_PATH and ALLOWED_ORIGINS are comma-separated', () => {
  const config = loadConfig({ WS_PATH: '/mqtt, /ws', ALLOWED_ORIGINS: 'https://A.example,https://b.example' });
  assert.deepEqual(config.wsPaths, ['/mqtt', '/ws']);
  assert.deepEqual(config.allowedOrigins, ['https://a.example', 'https://b.example']);
});

test('every bad variable is named in one error, with what it expects', () => {
  assert.throws(
    () =>
      loadConfig({
        HTTP_PORT: '99999',
        BROKER_URL: 'http://x',
        TLS_CLIENT_AUTH: 'maybe',
        MAX_CONNECTIONS: 'many',
        WS_PATH: 'mqtt',
        TLS_CERT: '/only/cert.pem',
        HTTP_UPSTREAM: 'ftp://x',
      }),
    (err: ConfigError) => {
      const text = err.message;
      for (const name of ['HTTP_PORT', 'BROKER_URL', 'TLS_CLIENT_AUTH', 'MAX_CONNECTIONS', 'WS_PATH', 'TLS_KEY', 'HTTP_UPSTREAM']) {
        assert.match(text, new RegExp(name), `${name} is named`);
      }
      assert.match(text, /a whole number from 0 to 65535/);
      assert.match(text, /one of none, optional, require/);
      assert.equal(err.code, 'ERR_CONFIG');
      return true;
    },
  );
});

test('files named by variables must be readable: the message names the variable', () => {
  assert.throws(
    () => loadConfig({ BROKER_CA: '/nonexistent/ca.pem', AUTH_FILE: '/nonexistent/passwd', ACL_FILE: '/nonexistent/acl' }),
    (err: ConfigError) =>
      /BROKER_CA="\/nonexistent\/ca.pem": expected a readable file \(ENOENT\)/.test(err.message) &&
      /AUTH_FILE=/.test(err.message) &&
      /ACL_FILE=/.test(err.message),
  );
});

test('the program stops with the message when a variable is wrong', async () => {
  const { spawnSync } = await import('node:child_process');
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, HTTP_PORT: 'eighty' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(run.status, 2);
  assert.match(run.stderr, /HTTP_PORT="eighty": expected a whole number from 0 to 65535/);
});

test('a port that cannot be bound stops the program with one line naming the variable', async () => {
  const net = await import('node:net');
  const { spawnSync } = await import('node:child_process');
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as { port: number }).port;
  try {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, HOST: '127.0.0.1', HTTP_PORT: String(port), HTTPS_PORT: '', MQTT_PORT: '', MQTTS_PORT: '', BROKER_URL: 'mqtt://127.0.0.1:1', LOG_LEVEL: 'silent' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(run.status, 1);
    assert.match(run.stderr, new RegExp(`HTTP_PORT=${port}: port ${port} is already in use; set HTTP_PORT to a free port`));
  } finally {
    blocker.close();
  }
});
