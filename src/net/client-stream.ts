import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { CloseReasonName } from '../errors.js';
import type { Transport } from '../upstream/upstream.js';
import type { ConnectionAddresses } from './client-address.js';

/** Who a client is, as far as its transport knows. */
export interface ClientInfo {
  readonly transport: Transport;
  readonly remote: string;
  readonly peerCertificateSubject?: string | undefined;
  /** Client and gateway addresses as believed at the edge (a trusted proxy may have named the client). */
  readonly addresses?: ConnectionAddresses | undefined;
}

/** What a client stream reports, in this order: data, at most one refusal, end, close. */
export interface ClientEvents {
  /** MQTT bytes from the client, with no regard to packet boundaries [MQTT-6.0.0-2]. */
  onData(bytes: Buffer): void;
  /** The transport refused the client's input (a text frame, a broken or oversized frame); it is closing. */
  onRefused(reason: CloseReasonName, detail: string): void;
  /** The client will send no more. */
  onEnd(): void;
  /** The connection is gone. */
  onClose(): void;
}

/**
 * A client connection as the rest of the gateway sees it, whatever carried it: bytes in through
 * `listen`, bytes out through `write`, with backpressure both ways (`pause`/`resume`, and `write`
 * returning false until `onDrain`).
 */
export interface ClientStream extends ClientInfo {
  /** A WebSocket's close code (for metrics), once it has closed. */
  readonly closeCode?: number | undefined;
  listen(events: ClientEvents): void;
  /** false: the client's buffer is full; stop until the onDrain listener fires. */
  write(bytes: Buffer): boolean;
  onDrain(listener: () => void): void;
  pause(): void;
  resume(): void;
  /** Flush what was written, then close, saying why. */
  end(reason: CloseReasonName): void;
  /** Close now, saying why (a WebSocket close code; a raw TCP connection is dropped). */
  abort(reason: CloseReasonName): void;
  /** Drop the connection at once. */
  destroy(): void;
}

/** A peer that stops reading must not hold a closing connection open: flushing gets this long. */
export const FLUSH_DEADLINE_MS = 10_000;

/**
 * What every client read straight off its socket shares: who it is, the socket's own backpressure,
 * and a deadline for closing.
 */
export abstract class SocketStream<T extends Transport> implements ClientStream {
  readonly transport: T;
  readonly remote: string;
  readonly peerCertificateSubject: string | undefined;
  readonly addresses: ConnectionAddresses | undefined;
  private deadlineSet = false;

  constructor(
    protected readonly socket: Socket | TLSSocket,
    info: ClientInfo & { transport: T },
  ) {
    this.transport = info.transport;
    this.remote = info.remote;
    this.peerCertificateSubject = info.peerCertificateSubject;
    this.addresses = info.addresses;
  }

  abstract listen(events: ClientEvents): void;
  abstract write(bytes: Buffer): boolean;
  abstract end(reason: CloseReasonName): void;
  abstract abort(reason: CloseReasonName): void;

  onDrain(listener: () => void): void {
    this.socket.on('drain', listener);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /**
   * A socket may close while the edge still decides about it (a token being verified, a PROXY header
   * being read); its 'close' has then been missed, so the events are told now, a tick later.
   */
  protected closedAlready(events: ClientEvents): boolean {
    if (!this.socket.destroyed) return false;
    process.nextTick(() => {
      events.onEnd();
      events.onClose();
    });
    return true;
  }

  /** A peer that stops reading must not hold a closing connection open: the socket is dropped at the flush deadline. */
  protected dropAtDeadline(): void {
    if (this.deadlineSet) return;
    this.deadlineSet = true;
    const timer = setTimeout(() => this.socket.destroy(), FLUSH_DEADLINE_MS).unref();
    this.socket.once('close', () => clearTimeout(timer));
  }
}

/** Raw MQTT over TCP or TLS: the socket itself. */
export class SocketClient extends SocketStream<'tcp' | 'tls'> {
  listen(events: ClientEvents): void {
    const { socket } = this;
    if (this.closedAlready(events)) return;
    socket.on('data', (bytes: Buffer) => events.onData(bytes));
    socket.on('end', () => events.onEnd());
    socket.on('close', () => events.onClose());
    // The socket closes after an error; 'close' reports it.
    socket.on('error', () => {});
  }

  write(bytes: Buffer): boolean {
    return this.socket.write(bytes);
  }

  end(): void {
    this.socket.end();
    this.dropAtDeadline();
  }

  abort(): void {
    this.socket.destroy();
  }
}

export function remoteAddress(socket: Socket): string {
  const address = socket.remoteAddress ?? 'unknown';
  return address.includes(':') ? `[${address}]:${socket.remotePort}` : `${address}:${socket.remotePort}`;
}
