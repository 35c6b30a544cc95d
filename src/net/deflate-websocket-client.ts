import type { WebSocket, RawData } from 'ws';
import { CloseReason, type CloseReasonName } from '../errors.js';
import { FLUSH_DEADLINE_MS, type ClientEvents, type ClientInfo, type ClientStream } from './client-stream.js';
import type { Pingable } from './ws-heartbeat.js';

/** Bytes handed to ws and not yet written to its socket, above which `write` asks the caller to wait. */
const HIGH_WATER_BYTES = 64 * 1024;

/**
 * A WebSocket that negotiated permessage-deflate (WS_COMPRESSION=true): the ws library inflates
 * and deflates each message, so MQTT bytes arrive one whole message at a time. Its messages are
 * capped after inflating by the server's maxPayload. Other WebSockets take the direct path
 * (websocket-client.ts).
 */
export class DeflateWebSocketClient implements ClientStream, Pingable {
  readonly transport: 'ws' | 'wss';
  readonly remote: string;
  readonly peerCertificateSubject: string | undefined;
  readonly addresses: ClientInfo['addresses'];
  closeCode: number | undefined;
  private unsent = 0;
  private readonly drainListeners: (() => void)[] = [];
  private answered = true;
  private ending = false;
  private events: ClientEvents | undefined;

  constructor(
    private readonly ws: WebSocket,
    info: ClientInfo & { transport: 'ws' | 'wss' },
  ) {
    this.transport = info.transport;
    this.remote = info.remote;
    this.peerCertificateSubject = info.peerCertificateSubject;
    this.addresses = info.addresses;
  }

  listen(events: ClientEvents): void {
    this.events = events;
    const { ws } = this;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) events.onData(data as Buffer);
      else events.onRefused('textFrame', 'a text frame');
    });
    ws.on('pong', () => (this.answered = true));
    ws.on('close', (code: number) => {
      this.closeCode = code;
      events.onEnd();
      events.onClose();
    });
    // ws closes the connection itself after an error (with 1009 for an oversized message); 'close' follows.
    ws.on('error', () => {});
  }

  write(bytes: Buffer): boolean {
    this.unsent += bytes.length;
    this.ws.send(bytes, { binary: true }, () => this.sent(bytes.length));
    return this.unsent < HIGH_WATER_BYTES;
  }

  onDrain(listener: () => void): void {
    this.drainListeners.push(listener);
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  end(reason: CloseReasonName): void {
    if (this.ending) return;
    this.ending = true;
    this.ws.close(CloseReason[reason].ws, CloseReason[reason].text);
    const timer = setTimeout(() => this.ws.terminate(), FLUSH_DEADLINE_MS).unref();
    this.ws.once('close', () => clearTimeout(timer));
  }

  abort(reason: CloseReasonName): void {
    this.end(reason);
  }

  destroy(): void {
    this.ws.terminate();
  }

  /** As for WebSocketClient: silence while paused by backpressure proves nothing. */
  heartbeat(): void {
    if (!this.answered && !this.ws.isPaused) {
      this.events?.onRefused('pongTimeout', 'no pong since the last ping');
      this.ws.terminate();
      return;
    }
    this.answered = false;
    this.ws.ping();
  }

  private sent(length: number): void {
    const wasFull = this.unsent >= HIGH_WATER_BYTES;
    this.unsent -= length;
    if (wasFull && this.unsent < HIGH_WATER_BYTES) for (const listener of this.drainListeners) listener();
  }
}
