import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { startGateway } from '../../helpers/gateway.js';
import { startMosquitto, freePort, MOSQUITTO, type Mosquitto } from '../../helpers/mosquitto.js';
import { startHaproxy, HAPROXY } from '../../helpers/haproxy.js';
import { requireProgram } from '../../helpers/programs.js';
import { waitEvent, waitFor } from '../../helpers/wait.js';

// PROXY protocol with a real peer: HAProxy reads the header the gateway sends to its backend, and
// sends one to the gateway as the load balancer in front of it. The client's own endpoint (its
// port) differs from every hop's, so finding it on the far side proves the header carried it.
const needs = { ...requireProgram(MOSQUITTO, 'mosquitto'), ...requireProgram(HAPROXY, 'haproxy') };
let broker: Mosquitto;

before(async () => {
  if (needs.skip) return;
  broker = await startMosquitto();
});
after(async () => {
  await broker?.stop();
});

/** Publishes through `url` and receives it back on the same connection; returns the client's own address:port. */
async function roundTrip(url: string, clientId: string): Promise<string> {
  const client = mqtt.connect(url, { clientId, reconnectPeriod: 0, connectTimeout: 5000 });
  try {
    await waitEvent(client, 'connect');
    const socket = client.stream as unknown as { localAddress: string; localPort: number };
    const endpoint = `${socket.localAddress}:${socket.localPort}`;
    await client.subscribeAsync(`haproxy/${clientId}`, { qos: 1 });
    const received = waitEvent(client, 'message');
    await client.publishAsync(`haproxy/${clientId}`, 'through haproxy', { qos: 1 });
    const [, payload] = (await received) as [string, Buffer];
    assert.equal(payload.toString(), 'through haproxy');
    return endpoint;
  } finally {
    await client.endAsync(true);
  }
}

for (const version of ['v1', 'v2'] as const) {
  test(`BROKER_PROXY_PROTOCOL=${version}: HAProxy (accept-proxy) in front of Mosquitto reads the real client address`, needs, async (t) => {
    const port = await freePort();
    const haproxy = await startHaproxy(
      [`frontend in`, `  bind 127.0.0.1:${port} accept-proxy`, `  default_backend broker`, `backend broker`, `  server mosquitto 127.0.0.1:${broker.port}`].join('\n'),
      port,
    );
    t.after(() => haproxy.stop());
    const gw = await startGateway({ BROKER_URL: `mqtt://127.0.0.1:${port}`, BROKER_PROXY_PROTOCOL: version, HTTPS_PORT: '', MQTTS_PORT: '' });
    t.after(() => gw.close());
    const client = await roundTrip(gw.mqttUrl, `pp-out-${version}`);
    // tcplog starts with the client's endpoint, which haproxy can only know from the gateway's PROXY header.
    const line = await waitFor(() => haproxy.lines().find((l) => l.includes('in broker/mosquitto')), 'the haproxy log line');
    assert.ok(line.startsWith(`${client} `), `${line} names ${client}`);
  });
}

test('PROXY_PROTOCOL=true behind HAProxy (send-proxy-v2): the gateway logs the client, not the balancer', needs, async (t) => {
  const gw = await startGateway({ BROKER_URL: broker.url, PROXY_PROTOCOL: 'true', TRUSTED_PROXIES: '127.0.0.1', HTTPS_PORT: '', MQTTS_PORT: '' });
  t.after(() => gw.close());
  const port = await freePort();
  const haproxy = await startHaproxy(
    [`frontend lb`, `  bind 127.0.0.1:${port}`, `  default_backend gateway`, `backend gateway`, `  server gw 127.0.0.1:${gw.ports.mqtt} send-proxy-v2`].join('\n'),
    port,
  );
  t.after(() => haproxy.stop());
  const client = await roundTrip(`mqtt://127.0.0.1:${port}`, 'pp-in');
  const line = gw.logs.find((l) => l.msg === 'client connected' && l.clientId === 'pp-in');
  assert.equal(line?.remote, client, 'the remote is the client behind HAProxy, from its PROXY v2 header');
});
