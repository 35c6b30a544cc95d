import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { startGateway } from '../../helpers/gateway.js';
import { startMosquitto, MOSQUITTO } from '../../helpers/mosquitto.js';
import { requireProgram } from '../../helpers/programs.js';
import { waitEvent } from '../../helpers/wait.js';

const needs = requireProgram(MOSQUITTO, 'mosquitto');

/** Opens a WebSocket offering permessage-deflate (ws clients offer it by default); resolves with the response's header. */
async function open(url: string): Promise<{ ws: WebSocket; header: string | undefined }> {
  const ws = new WebSocket(url, 'mqtt', { perMessageDeflate: true });
  // 'open' follows 'upgrade' in the same tick: wait for both at once.
  const [[response]] = await Promise.all([waitEvent<[IncomingMessage]>(ws, 'upgrade'), waitEvent(ws, 'open')]);
  const header = response.headers['sec-websocket-extensions'];
  return { ws, header: Array.isArray(header) ? header.join(', ') : header };
}

async function close(ws: WebSocket): Promise<void> {
  const closed = waitEvent(ws, 'close');
  ws.close();
  await closed;
}

test('WS_COMPRESSION is off by default: an offer of permessage-deflate is declined', async (t) => {
  const gw = await startGateway({ MQTT_PORT: '', MQTTS_PORT: '', HTTPS_PORT: '' });
  t.after(() => gw.close());
  const { ws, header } = await open(gw.wsUrl);
  assert.equal(ws.extensions, '');
  assert.equal(header, undefined);
  await close(ws);
});

test('WS_COMPRESSION=true negotiates permessage-deflate with a 1 KiB server window', async (t) => {
  const gw = await startGateway({ WS_COMPRESSION: 'true', MQTT_PORT: '', MQTTS_PORT: '', HTTPS_PORT: '' });
  t.after(() => gw.close());
  const { ws, header } = await open(gw.wsUrl);
  assert.match(ws.extensions, /permessage-deflate/);
  assert.match(header ?? '', /permessage-deflate/);
  assert.match(header ?? '', /server_max_window_bits=10/);
  await close(ws);
});

test('a compressed message that inflates past MAX_PACKET_SIZE is refused with 1009', async (t) => {
  const gw = await startGateway({ WS_COMPRESSION: 'true', MAX_PACKET_SIZE: '65536', MQTT_PORT: '', MQTTS_PORT: '', HTTPS_PORT: '' });
  t.after(() => gw.close());
  const { ws } = await open(gw.wsUrl);
  const sent = new Promise<void>((resolve, reject) => ws.send(Buffer.alloc(1024 * 1024), { binary: true, compress: true }, (err) => (err ? reject(err) : resolve())));
  const [code] = await waitEvent<[number]>(ws, 'close');
  await sent.catch(() => {}); // the socket may close before the write callback; the close code is the point
  assert.equal(code, 1009);
});

test('MQTT round-trips over a compressed WebSocket, and a large repetitive payload crosses the wire compressed', needs, async (t) => {
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  const gw = await startGateway({ BROKER_URL: broker.url, WS_COMPRESSION: 'true' });
  t.after(() => gw.close());

  let publisherSocket: WebSocket | undefined;
  const connect = async (clientId: string, keep?: boolean): Promise<MqttClient> => {
    const client = mqtt.connect(gw.wsUrl, {
      clientId,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      createWebsocket: (url: string, protocols: string[]) => {
        const ws = new WebSocket(url, protocols, { perMessageDeflate: true });
        if (keep) publisherSocket = ws;
        return ws;
      },
    });
    await waitEvent(client as unknown as EventEmitter, 'connect');
    return client;
  };
  const sub = await connect('deflate-sub');
  const pub = await connect('deflate-pub', true);
  assert.match(publisherSocket?.extensions ?? '', /permessage-deflate/);
  await sub.subscribeAsync('deflate/#', { qos: 1 });

  for (const payload of [Buffer.from('small'), Buffer.from('MQTT over compressed WebSocket. '.repeat(32 * 1024))]) {
    const raw = (publisherSocket as unknown as { _socket: Socket })._socket;
    const before = raw.bytesWritten;
    const received = waitEvent<[string, Buffer]>(sub as unknown as EventEmitter, 'message');
    await pub.publishAsync('deflate/one', payload, { qos: 1 });
    const [, got] = await received;
    assert.ok(got.equals(payload), `payload of ${payload.length} bytes intact`);
    if (payload.length > 1024) assert.ok(raw.bytesWritten - before < payload.length / 10, 'sent compressed');
  }
  await Promise.all([sub.endAsync(), pub.endAsync()]);
});
