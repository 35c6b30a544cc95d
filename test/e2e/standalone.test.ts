import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { spawnGateway } from '../helpers/gateway-process.js';
import { startGateway } from '../helpers/gateway.js';
import { waitEvent, within } from '../helpers/wait.js';

// `npm start` with no broker configured: the embedded broker serves every listener on its own.
// Only the ports differ from a bare start (port 0, read back from the log), so tests never collide.
test('with no BROKER_URL the gateway alone serves MQTT over ws, wss, TCP and TLS', async (t) => {
  const certsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'standalone-certs-'));
  const gateway = await spawnGateway({ HOST: '127.0.0.1', HTTP_PORT: '0', HTTPS_PORT: '0', MQTT_PORT: '0', MQTTS_PORT: '0', CERTS_DIR: certsDir });
  t.after(async () => {
    await gateway.kill();
    fs.rmSync(certsDir, { recursive: true, force: true });
  });
  const started = gateway.logs.find((line) => line.msg === 'gateway started') as { ports: Record<string, number>; broker: string };
  assert.equal(started.broker, 'embedded');
  const ca = fs.readFileSync(path.join(certsDir, 'server.crt'));
  const urls = {
    ws: `ws://127.0.0.1:${started.ports.http}/mqtt`,
    wss: `wss://localhost:${started.ports.https}/mqtt`,
    tcp: `mqtt://127.0.0.1:${started.ports.mqtt}`,
    tls: `mqtts://localhost:${started.ports.mqtts}`,
  };
  const clients = await Promise.all(
    Object.entries(urls).map(async ([name, url]) => {
      const client = mqtt.connect(url, { ca, reconnectPeriod: 0, connectTimeout: 5000, clientId: `standalone-${name}` });
      await waitEvent(client, 'connect');
      await client.subscribeAsync('standalone/#', { qos: 1 });
      return { name, client };
    }),
  );
  // Every client publishes once; every client receives all four messages.
  const received = clients.map(({ client }) => {
    const seen = new Set<string>();
    return within(
      new Promise<Set<string>>((resolve) =>
        client.on('message', (_topic, payload) => {
          seen.add(payload.toString());
          if (seen.size === clients.length) resolve(seen);
        }),
      ),
      10_000,
      'every message at every client',
    );
  });
  await Promise.all(clients.map(({ name, client }) => client.publishAsync(`standalone/${name}`, `from ${name}`, { qos: 1 })));
  for (const seen of await Promise.all(received)) {
    assert.deepEqual([...seen].sort(), ['from tcp', 'from tls', 'from ws', 'from wss']);
  }
  await Promise.all(clients.map(({ client }) => client.endAsync()));
});

test('a malformed AUTH_FILE stops the start with a message naming the variable and the line', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'standalone-auth-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'passwd');
  fs.writeFileSync(file, 'alice:not-a-hash\n');
  await assert.rejects(startGateway({ AUTH_FILE: file, HTTPS_PORT: '', MQTTS_PORT: '' }), (err: Error) => {
    assert.match(err.message, new RegExp(`^AUTH_FILE: ${file}:1: `));
    return true;
  });
});
