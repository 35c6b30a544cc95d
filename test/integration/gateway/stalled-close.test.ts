import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { startGateway } from '../../helpers/gateway.js';
import { subscribeBytes } from '../../helpers/raw-mqtt.js';
import { waitEvent, waitFor } from '../../helpers/wait.js';

// A client that stops reading must not keep a closing connection (and what is queued for it)
// forever: when the broker ends it (here for its keep alive), the gateway flushes what it can and
// drops the client after a deadline.
test('a client that never reads is dropped after the flush deadline once the broker ends it', async (t) => {
  const gw = await startGateway({ MQTTS_PORT: '', HTTPS_PORT: '' });
  t.after(() => gw.close());
  const stalled = net.connect(gw.ports.mqtt as number, '127.0.0.1');
  stalled.on('error', () => {});
  t.after(() => stalled.destroy());
  stalled.write(mqttPacket.generate({ cmd: 'connect', clientId: 'stalled', protocolVersion: 4, clean: true, keepalive: 1 }));
  stalled.write(subscribeBytes('flood'));
  await waitEvent(stalled, 'data'); // CONNACK (and SUBACK): now it stops reading for good
  stalled.pause();

  const publisher = mqtt.connect(gw.mqttUrl, { reconnectPeriod: 0 });
  t.after(() => publisher.end(true));
  await waitEvent(publisher, 'connect');
  const payload = Buffer.alloc(60_000, 1);
  for (let i = 0; i < 300; i++) publisher.publish('flood', payload); // 18 MB: far more than the socket buffers hold

  await waitFor(() => gw.logs.some((l) => l.clientId === 'stalled' && l.msg === 'client disconnected'), 'the stalled client to be dropped', 25_000);
  assert.equal(gw.gateway.connectionCount, 1, 'only the publisher is left');
});
