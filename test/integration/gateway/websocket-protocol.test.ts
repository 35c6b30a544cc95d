import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import mqttPacket from 'mqtt-packet';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { connectPacket } from '../../helpers/raw-ws.js';
import { clientFrame } from '../../helpers/websocket-frames.js';
import { waitEvent, waitFor, within } from '../../helpers/wait.js';

/**
 * The WebSocket protocol itself (RFC 6455) as the gateway speaks it on the MQTT path, seen from
 * real clients: the ws library, and a raw TCP socket for what no well-behaved client sends.
 * The embedded broker answers, so no backend is needed.
 */

let gw: TestGateway;
before(async () => {
  gw = await startGateway({ MQTT_PORT: '', MQTTS_PORT: '', HTTPS_PORT: '' });
});
after(() => gw.close());

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** A counter's value from GET /metrics (0 when the series is not there yet). */
async function metric(series: string): Promise<number> {
  const text = await gw.gateway.metrics.scrape();
  const line = text.split('\n').find((l) => l.startsWith(`mqtt_gateway_${series} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

function request(headers: Record<string, string> = {}, method = 'GET'): string {
  const all = { Host: '127.0.0.1', Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': KEY, 'Sec-WebSocket-Protocol': 'mqtt', ...headers };
  return `${method} /mqtt HTTP/1.1\r\n${Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** A raw TCP peer that sends `bytes` at once and gathers the answer: the HTTP head, then the server's frames. */
async function rawPeer(bytes: Buffer): Promise<{ head: () => string; frames: () => { opcode: number; payload: Buffer }[]; ended: Promise<void> }> {
  const socket = net.connect({ host: '127.0.0.1', port: gw.ports.http as number });
  let received = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
  socket.on('error', () => {});
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await waitEvent(socket, 'connect');
  socket.write(bytes);
  const split = (): number => received.indexOf('\r\n\r\n');
  return {
    head: () => (split() < 0 ? '' : received.subarray(0, split()).toString()),
    frames: () => {
      const frames: { opcode: number; payload: Buffer }[] = [];
      let at = split() + 4;
      // Server frames here are short: a 7-bit length, no mask.
      while (split() >= 0 && at + 2 <= received.length && at + 2 + ((received[at + 1] as number) & 0x7f) <= received.length) {
        const length = (received[at + 1] as number) & 0x7f;
        frames.push({ opcode: (received[at] as number) & 0x0f, payload: received.subarray(at + 2, at + 2 + length) });
        at += 2 + length;
      }
      return frames;
    },
    ended,
  };
}

test('the handshake answers 101 with the RFC 6455 accept key, and bytes sent right behind it are read', async () => {
  const peer = await rawPeer(Buffer.concat([Buffer.from(request()), clientFrame(0x2, connectPacket('behind-handshake'))]));
  const connack = await waitFor(() => peer.frames().find((f) => f.opcode === 0x2), 'a binary frame');
  assert.match(peer.head(), /^HTTP\/1\.1 101 /);
  // The example of RFC 6455 §1.3.
  assert.match(peer.head(), /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=(\r\n|$)/);
  assert.match(peer.head(), /\r\nSec-WebSocket-Protocol: mqtt(\r\n|$)/);
  assert.deepEqual([...connack.payload], [0x20, 0x02, 0x00, 0x00], 'CONNACK, accepted');
});

test('a handshake that is not WebSocket 13 (or 8) is refused: 426 naming the versions, 400 for a bad key, 405 for a POST', async () => {
  const malformedBefore = await metric('handshakes_refused_total{reason="malformed"}');
  const status = async (bytes: string): Promise<string> => {
    const peer = await rawPeer(Buffer.from(bytes));
    await within(peer.ended, 5000, 'the refused socket to close');
    return peer.head();
  };
  const wrongVersion = await status(request({ 'Sec-WebSocket-Version': '7' }));
  assert.match(wrongVersion, /^HTTP\/1\.1 426 /);
  assert.match(wrongVersion, /\r\nSec-WebSocket-Version: 13, 8(\r\n|$)/);
  assert.match(await status(request({ 'Sec-WebSocket-Key': 'short' })), /^HTTP\/1\.1 400 /);
  assert.match(await status(request({}, 'POST')), /^HTTP\/1\.1 405 /);
  assert.equal(await metric('handshakes_refused_total{reason="malformed"}'), malformedBefore + 3, 'counted as malformed, not as a policy refusal');
  // The last draft, framed as 13 is: accepted, as the ws library did.
  const draft = await rawPeer(Buffer.from(request({ 'Sec-WebSocket-Version': '8' })));
  await waitFor(() => draft.head(), 'an answer');
  assert.match(draft.head(), /^HTTP\/1\.1 101 /);
});

test('a client that drops its TCP connection without a close frame is counted as 1006, and closed once', async () => {
  const before = await metric('websocket_closes_total{code="1006"}');
  const socket = net.connect({ host: '127.0.0.1', port: gw.ports.http as number });
  socket.on('error', () => {});
  socket.write(request());
  await waitEvent(socket, 'data');
  socket.resetAndDestroy();
  await waitFor(async () => (await metric('websocket_closes_total{code="1006"}')) === before + 1, 'the close to be counted');
});

test('a CONNECT and a close frame in one read: the connection closes at once, not at the flush deadline', async () => {
  const peer = await rawPeer(Buffer.concat([Buffer.from(request()), clientFrame(0x2, connectPacket('connect-and-close')), clientFrame(0x8, Buffer.from([0x03, 0xe8]))]));
  // The deadline for a peer that does not finish closing is 10 s.
  await within(peer.ended, 3000, 'the connection to close');
  assert.equal(peer.frames().find((f) => f.opcode === 0x8)?.payload.readUInt16BE(0), 1000);
});

test('an unmasked client frame fails the connection: a 1002 close frame, then the socket ends', async () => {
  const peer = await rawPeer(Buffer.concat([Buffer.from(request()), clientFrame(0x2, connectPacket('unmasked'), { masked: false })]));
  await within(peer.ended, 5000, 'the gateway to end the connection');
  const close = peer.frames().find((f) => f.opcode === 0x8);
  assert.equal(close?.payload.readUInt16BE(0), 1002);
  await waitFor(() => gw.logs.some((l) => l.msg === 'closing client' && l.reason === 'protocol error' && /masked/.test(String(l.detail))), 'the close log line');
});

test('a ping is answered with a pong carrying its payload', async () => {
  const ws = new WebSocket(gw.wsUrl, 'mqtt');
  await waitEvent(ws, 'open');
  ws.ping(Buffer.from('are you there'));
  const [payload] = await waitEvent<[Buffer]>(ws, 'pong');
  assert.equal(payload.toString(), 'are you there');
  ws.close();
  await waitEvent(ws, 'close');
});

test("a client's close is answered with its own code, and the connection is counted closed", async () => {
  const ws = new WebSocket(gw.wsUrl, 'mqtt');
  await waitEvent(ws, 'open');
  ws.send(connectPacket('closer'));
  await waitEvent(ws, 'message');
  ws.close(4000, 'done here');
  const [code] = await waitEvent<[number]>(ws, 'close');
  assert.equal(code, 4000);
  await waitFor(() => gw.logs.some((l) => l.msg === 'client disconnected' && l.clientId === 'closer'), 'the close log line');
});

test('a message fragmented across frames, with a ping between, carries MQTT packets split anywhere [MQTT-6.0.0-2]', async () => {
  const peer = await rawPeer(
    Buffer.concat([
      Buffer.from(request()),
      clientFrame(0x2, connectPacket('fragments').subarray(0, 5), { fin: false }),
      clientFrame(0x9, Buffer.from('p')),
      clientFrame(0x0, connectPacket('fragments').subarray(5)),
    ]),
  );
  await waitFor(() => peer.frames().some((f) => f.opcode === 0xa) && peer.frames().some((f) => f.opcode === 0x2), 'a pong and the CONNACK');
  assert.deepEqual([...(peer.frames().find((f) => f.opcode === 0x2)?.payload ?? [])], [0x20, 0x02, 0x00, 0x00]);
});

test('a CONNECT whose token is refused after the client already sent its close: the connection still closes at once', async (t) => {
  // AUTH_MODE=jwt checks the CONNECT password asynchronously, while the client's stream is paused.
  const jwtGateway = await startGateway({ AUTH_MODE: 'jwt', JWT_SECRET: 'a-secret-long-enough-for-hs256-0123456789', MQTT_PORT: '', MQTTS_PORT: '', HTTPS_PORT: '' });
  t.after(() => jwtGateway.close());
  const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'bad-token', clean: true, keepalive: 60, username: 'u', password: Buffer.from('not.a.token') });
  const socket = net.connect({ host: '127.0.0.1', port: jwtGateway.ports.http as number });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(Buffer.concat([Buffer.from(request()), clientFrame(0x2, connect), clientFrame(0x8, Buffer.from([0x03, 0xe8]))]));
  socket.resume();
  await within(closed, 3000, 'the client side to close');
  // The gateway's side must see the FIN too; the deadline for a peer that does not finish closing is 10 s.
  await waitFor(() => jwtGateway.gateway.connectionCount === 0, 'the gateway to count the connection closed', 3000);
});
