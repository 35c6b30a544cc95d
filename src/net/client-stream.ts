import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { WebSocket } from 'ws';
import type { Duplex } from 'node:stream';
import { CloseReason, type CloseReasonName } from '../errors.js';
import type { Transport } from '../upstream/upstream.js';
import { WebSocketDuplex } from './websocket-duplex.js';
import type { ConnectionAddresses } from './client-address.js';

/** A client connection as the rest of the gateway sees it, whatever carried it. */
export interface ClientStream {
  readonly duplex: Duplex;
  readonly transport: Transport;
  readonly remote: string;
  readonly peerCertificateSubject?: string | undefined;
  /** Client and gateway addresses as believed at the edge (a trusted proxy may have named the client). */
  readonly addresses?: ConnectionAddresses | undefined;
  /** Flush what was written, then close, saying why. */
  end(reason: CloseReasonName): void;
  /** Close now, saying why (a WebSocket close code; a raw TCP connection is dropped). */
  abort(reason: CloseReasonName): void;
  /** Raised for input the transport itself refuses (a WebSocket text frame). */
  onRefused(listener: (reason: CloseReasonName) => void): void;
}

/** A peer that stops reading must not hold a closing connection open: flushing gets this long. */
const FLUSH_DEADLINE_MS = 10_000;

/** A graceful end, once; if the flush has not finished by the deadline, `kill` ends it. */
function endWithDeadline(duplex: Duplex, end: (reason: CloseReasonName) => void, kill: () => void): (reason: CloseReasonName) => void {
  let ending = false;
  return (reason) => {
    if (ending) return;
    ending = true;
    end(reason);
    const timer = setTimeout(kill, FLUSH_DEADLINE_MS).unref();
    duplex.once('close', () => clearTimeout(timer));
  };
}

export function webSocketClient(
  ws: WebSocket,
  transport: 'ws' | 'wss',
  remote: string,
  peerCertificateSubject?: string,
): ClientStream {
  const duplex = new WebSocketDuplex(ws);
  return {
    duplex,
    transport,
    remote,
    peerCertificateSubject,
    end: endWithDeadline(
      duplex,
      (reason) => duplex.endWith(CloseReason[reason].ws, CloseReason[reason].text),
      () => ws.terminate(),
    ),
    abort: (reason) => duplex.closeNow(CloseReason[reason].ws, CloseReason[reason].text),
    onRefused: (listener) => duplex.on('text-frame', () => listener('textFrame')),
  };
}

export function socketClient(socket: Socket | TLSSocket, transport: 'tcp' | 'tls', peerCertificateSubject?: string): ClientStream {
  return {
    duplex: socket,
    transport,
    remote: remoteAddress(socket),
    peerCertificateSubject,
    end: endWithDeadline(
      socket,
      () => socket.end(),
      () => socket.destroy(),
    ),
    abort: () => socket.destroy(),
    onRefused: () => {},
  };
}

export function remoteAddress(socket: Socket): string {
  const address = socket.remoteAddress ?? 'unknown';
  return address.includes(':') ? `[${address}]:${socket.remotePort}` : `${address}:${socket.remotePort}`;
}
