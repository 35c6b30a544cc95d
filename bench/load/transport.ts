/**
 * The byte pipe under a bench connection: a WebSocket (one MQTT packet per binary frame, as browsers send)
 * or a raw TCP socket.
 */
import net from 'node:net';
import WebSocket from 'ws';
import type { Target } from './jobs.js';

export interface Transport {
  /** Sends one MQTT packet (its own WebSocket frame). */
  send(packet: Buffer): void;
  /** Sends several packets; over TCP they go in one write, over WebSocket still one frame each. */
  sendMany(packets: readonly Buffer[]): void;
  close(): void;
  onData: (chunk: Buffer) => void;
  onClose: (reason: string) => void;
}

const HANDSHAKE_TIMEOUT_MS = 10_000;

class WebSocketTransport implements Transport {
  onData: (chunk: Buffer) => void = () => {};
  onClose: (reason: string) => void = () => {};
  constructor(private readonly socket: WebSocket) {
    socket.on('message', (data: WebSocket.RawData) => {
      this.onData(Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data));
    });
    socket.on('close', (code: number) => this.onClose(`websocket closed with ${code}`));
    socket.on('error', (error: Error) => this.onClose(error.message));
  }
  send(packet: Buffer): void {
    this.socket.send(packet, { binary: true });
  }
  sendMany(packets: readonly Buffer[]): void {
    for (const packet of packets) this.socket.send(packet, { binary: true });
  }
  close(): void {
    this.socket.terminate();
  }
}

class TcpTransport implements Transport {
  onData: (chunk: Buffer) => void = () => {};
  onClose: (reason: string) => void = () => {};
  constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.onClose('tcp closed'));
    socket.on('error', (error: Error) => this.onClose(error.message));
  }
  send(packet: Buffer): void {
    this.socket.write(packet);
  }
  sendMany(packets: readonly Buffer[]): void {
    if (packets.length === 1) this.socket.write(packets[0] as Buffer);
    else if (packets.length > 1) this.socket.write(Buffer.concat(packets));
  }
  close(): void {
    this.socket.destroy();
  }
}

export function openTransport(target: Target): Promise<Transport> {
  const url = new URL(target.url);
  if (url.protocol === 'tcp:') {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: url.hostname, port: Number(url.port) });
      socket.setNoDelay(true);
      socket.setTimeout(HANDSHAKE_TIMEOUT_MS, () => socket.destroy(new Error('tcp connect timeout')));
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.setTimeout(0);
        socket.off('error', reject);
        resolve(new TcpTransport(socket));
      });
    });
  }
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(target.url, target.subprotocol === null ? [] : [target.subprotocol], {
      perMessageDeflate: false,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      // The gateway's development certificate is self-signed; only the bench client accepts it.
      rejectUnauthorized: false,
    });
    socket.binaryType = 'nodebuffer';
    const fail = (error: Error): void => reject(error);
    socket.once('error', fail);
    socket.once('unexpected-response', (_request, response) => {
      socket.terminate();
      reject(new Error(`upgrade refused with HTTP ${response.statusCode}`));
    });
    socket.once('open', () => {
      socket.off('error', fail);
      resolve(new WebSocketTransport(socket));
    });
  });
}
