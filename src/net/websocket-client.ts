import type { Socket } from 'node:net';
import { CloseReason, type CloseReasonName } from '../errors.js';
import { SocketStream, type ClientEvents, type ClientInfo } from './client-stream.js';
import { FrameReader, Opcode, closePayload, frame, readClose, type FrameRefusal, type FrameSink } from './websocket-frames.js';
import type { Pingable } from './ws-heartbeat.js';

const EMPTY = Buffer.alloc(0);
const PING = frame(Opcode.ping, EMPTY) as Buffer;

/**
 * MQTT over a WebSocket, read and written on the upgraded socket itself: binary payloads go to
 * the framer as they arrive and MQTT bytes go out as one binary frame per write, with the socket's
 * own backpressure. No stream sits between the socket and the connection, which keeps an idle
 * client small and a message cheap. A text frame is refused with 1003 [MQTT-6.0.0-1].
 */
export class WebSocketClient extends SocketStream<'ws' | 'wss'> implements FrameSink, Pingable {
  /** The code of the first close frame, sent or received; 1006 when the socket closed without one. */
  closeCode = 1006;
  private events: ClientEvents | undefined;
  private readonly reader: FrameReader;
  private closeSent = false;
  /** The client sent a close frame or ended its side of the TCP connection. */
  private inputEnded = false;
  /** The client broke the protocol: it is not waited for. */
  private broken = false;
  private answered = true;

  constructor(
    socket: Socket,
    head: Buffer,
    maxMessageBytes: number,
    info: ClientInfo & { transport: 'ws' | 'wss' },
  ) {
    super(socket, info);
    this.reader = new FrameReader(maxMessageBytes, this);
    // Bytes that came with the handshake: read before anything else once listening starts.
    if (head.length > 0) socket.unshift(head);
  }

  listen(events: ClientEvents): void {
    this.events = events;
    const { socket } = this;
    if (this.closedAlready(events)) return;
    socket.on('data', (chunk: Buffer) => this.reader.push(chunk));
    socket.on('end', () => this.onInputEnd());
    socket.on('close', () => {
      this.onInputEnd();
      events.onClose();
    });
    // The socket closes after an error; 'close' reports it.
    socket.on('error', () => {});
  }

  write(bytes: Buffer): boolean {
    if (this.closeSent) return true;
    return this.send(frame(Opcode.binary, bytes));
  }

  /** A close frame after everything written, then the closing handshake. */
  end(reason: CloseReasonName): void {
    this.close(CloseReason[reason].ws, CloseReason[reason].text);
  }

  /** Every byte written is already in the socket, so closing now is the same as ending. */
  abort(reason: CloseReasonName): void {
    this.end(reason);
  }

  /**
   * Called by the heartbeat: a client that has not answered the last ping is gone. While the socket
   * is paused (backpressure) its pong may be waiting unread, so silence then proves nothing.
   */
  heartbeat(): void {
    if (this.closeSent) return;
    if (!this.answered && !this.socket.isPaused()) {
      this.events?.onRefused('pongTimeout', 'no pong since the last ping');
      this.socket.destroy();
      return;
    }
    this.answered = false;
    this.socket.write(PING);
  }

  binary(bytes: Buffer): void {
    if (!this.closeSent) this.events?.onData(bytes);
  }

  control(opcode: number, payload: Buffer): void {
    if (opcode === Opcode.pong) {
      this.answered = true;
    } else if (opcode === Opcode.ping) {
      if (!this.closeSent) this.send(frame(Opcode.pong, payload));
    } else {
      this.onCloseFrame(payload);
    }
  }

  refused(reason: FrameRefusal, detail: string): void {
    this.broken = true;
    // Our close frame is already out (this was the answer to it): nothing is left to wait for.
    if (this.closeSent) this.endSocket();
    this.events?.onRefused(reason, detail);
  }

  /** The client's close frame: answered with the same code, then the TCP connection is ended (RFC 6455 §5.5.1). */
  private onCloseFrame(payload: Buffer): void {
    const close = readClose(payload);
    if ('refusal' in close) return this.refused(close.refusal, close.detail);
    // Answered before the end is reported: what the connection does on the end must not speak first.
    if (!this.closeSent) {
      this.closeCode = close.code;
      this.closeSent = true;
      this.send(frame(Opcode.close, close.code === 1005 ? EMPTY : closePayload(close.code, '')));
    }
    this.onInputEnd();
  }

  private close(code: number, text: string): void {
    if (this.closeSent) return;
    this.closeSent = true;
    // A socket already gone takes no close frame: it stays 1006 (closed abnormally).
    if (!this.socket.writable) return;
    if (this.closeCode === 1006) this.closeCode = code;
    this.send(frame(Opcode.close, closePayload(code, text)));
    // A client that broke the protocol, or has finished sending, is not waited for; any other answers the close.
    if (this.broken || this.inputEnded) this.endSocket();
    else this.dropAtDeadline();
  }

  private onInputEnd(): void {
    if (this.inputEnded) return;
    this.inputEnded = true;
    // Our close frame is out and the client has finished: the server closes TCP first (RFC 6455 §7.1.1).
    if (this.closeSent) this.endSocket();
    this.events?.onEnd();
  }

  private endSocket(): void {
    if (this.socket.writableEnded) return;
    this.socket.end();
    this.dropAtDeadline();
  }

  private send(data: Buffer | [Buffer, Buffer]): boolean {
    const { socket } = this;
    if (socket.writableEnded) return true;
    if (Buffer.isBuffer(data)) return socket.write(data);
    socket.cork();
    socket.write(data[0]);
    const flowing = socket.write(data[1]);
    socket.uncork();
    return flowing;
  }
}
