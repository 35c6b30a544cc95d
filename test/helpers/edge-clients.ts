import net from 'node:net';
import WebSocket, { type ClientOptions } from 'ws';
import { PacketLog, type ProtocolVersion } from './raw-mqtt.js';
import { waitEvent, within } from './wait.js';

/**
 * Clients for edge tests, which must choose their source address (127.0.0.2 and 127.0.0.1 are both
 * loopback, so one test can be two peers) and see a refused handshake's HTTP status.
 */

export interface TcpPeer {
  readonly socket: net.Socket;
  readonly log: PacketLog;
  /** Settles when the socket has closed, with the time. */
  readonly closed: Promise<number>;
  close(): Promise<void>;
}

/** A raw TCP connection from `localAddress`; resolves once connected. */
export async function tcpFrom(port: number, localAddress = '127.0.0.1', protocolVersion: ProtocolVersion = 4): Promise<TcpPeer> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  const log = new PacketLog(protocolVersion);
  socket.on('data', (chunk: Buffer) => log.push(chunk));
  socket.on('error', () => {
    // A refused peer is reset; 'close' follows and the test looks at when.
  });
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
  await waitEvent(socket, 'connect');
  return {
    socket,
    log,
    closed,
    close: async () => {
      socket.destroy();
      await within(closed, 5000, 'the socket to close');
    },
  };
}

export type Handshake =
  | { readonly ws: WebSocket; readonly status?: undefined }
  | { readonly ws?: undefined; readonly status: number; readonly body: string };

/** A WebSocket handshake with the `mqtt` subprotocol: the open socket, or the refusal's status and body. */
export async function wsHandshake(url: string, options: ClientOptions = {}): Promise<Handshake> {
  const ws = new WebSocket(url, 'mqtt', options);
  return within(
    new Promise<Handshake>((resolve, reject) => {
      ws.once('open', () => resolve({ ws }));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => {
          ws.terminate();
          resolve({ status: res.statusCode ?? 0, body });
        });
      });
      ws.once('error', reject);
    }),
    5000,
    `the WebSocket handshake with ${url}`,
  );
}

/** Log lines with this message (and, if given, whose fields include `fields`). */
export function logLines(logs: readonly Record<string, unknown>[], msg: string, fields: Record<string, unknown> = {}) {
  return logs.filter((line) => line.msg === msg && Object.entries(fields).every(([k, v]) => line[k] === v));
}
