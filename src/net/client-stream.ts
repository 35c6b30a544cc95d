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
    end: (reason) => duplex.endWith(CloseReason[reason].ws, CloseReason[reason].text),
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
    end: () => socket.end(),
    abort: () => socket.destroy(),
    onRefused: () => {},
  };
}

export function remoteAddress(socket: Socket): string {
  const address = socket.remoteAddress ?? 'unknown';
  return address.includes(':') ? `[${address}]:${socket.remotePort}` : `${address}:${socket.remotePort}`;
}
