import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { SocketClient, type ClientEvents, type ClientStream } from '../../../src/net/client-stream.js';
import { WebSocketClient } from '../../../src/net/websocket-client.js';
import { waitEvent, waitFor } from '../../helpers/wait.js';

/** A server-side socket whose peer has gone and which has closed, as when a client leaves during a slow check. */
async function closedSocket(): Promise<net.Socket> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = waitEvent<[net.Socket]>(server, 'connection');
  const client = net.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
  const [socket] = await accepted;
  socket.on('error', () => {});
  const closed = new Promise((resolve) => socket.once('close', resolve));
  client.resetAndDestroy();
  await closed;
  server.close();
  return socket;
}

function recorder(): { events: ClientEvents; seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    events: {
      onData: () => seen.push('data'),
      onRefused: () => seen.push('refused'),
      onEnd: () => seen.push('end'),
      onClose: () => seen.push('close'),
    },
  };
}

const streams: [string, (socket: net.Socket) => ClientStream][] = [
  ['raw TCP', (socket) => new SocketClient(socket, { transport: 'tcp', remote: 'test' })],
  ['WebSocket', (socket) => new WebSocketClient(socket, Buffer.alloc(0), 1024, { transport: 'ws', remote: 'test' })],
];

for (const [name, make] of streams) {
  test(`${name}: a socket that closed before anyone listened still reports its end and close, once`, async () => {
    const stream = make(await closedSocket());
    const { events, seen } = recorder();
    stream.listen(events);
    await waitFor(() => seen.includes('close'), 'the close to be reported');
    assert.deepEqual(seen, ['end', 'close']);
  });
}
