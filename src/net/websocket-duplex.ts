import { Duplex } from 'node:stream';
import type { WebSocket, RawData } from 'ws';

const MAX_COALESCED_BYTES = 64 * 1024;

/**
 * A WebSocket seen as a byte stream, so that every client (WebSocket or raw TCP) is a Duplex.
 * Binary frames are read as bytes with no regard to MQTT packet boundaries [MQTT-6.0.0-2];
 * a text frame closes the connection with 1003 [MQTT-6.0.0-1].
 * Backpressure: a full read buffer pauses the socket; writes complete when the socket took them.
 */
export class WebSocketDuplex extends Duplex {
  private closeCode = 1000;
  private closeText = '';

  constructor(readonly ws: WebSocket) {
    super({ allowHalfOpen: false });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) {
        this.emit('text-frame');
        return;
      }
      if (!this.push(data as Buffer)) ws.pause();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.emit('ws-close', code, reason.toString());
      this.push(null);
    });
    ws.on('error', (err) => this.destroy(err));
  }

  /** Ends after every queued byte is sent, then closes with this code. */
  endWith(code: number, text: string): void {
    this.closeCode = code;
    this.closeText = text;
    this.end();
  }

  /** Closes now with this code; bytes already handed to the socket still go out before the close frame. */
  closeNow(code: number, text: string): void {
    this.closeCode = code;
    this.closeText = text;
    this.ws.close(code, text);
  }

  override _read(): void {
    this.ws.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.ws.send(chunk, { binary: true }, callback);
  }

  /**
   * What queued up while the socket was busy goes out as one frame: one system call instead of one
   * per chunk. MQTT packets need not align with frames [MQTT-6.0.0-2], so this is invisible to clients.
   * Large batches are sent chunk by chunk rather than copied.
   */
  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    let total = 0;
    for (const { chunk } of chunks) total += chunk.length;
    if (total <= MAX_COALESCED_BYTES) {
      this.ws.send(Buffer.concat(chunks.map(({ chunk }) => chunk), total), { binary: true }, callback);
      return;
    }
    const last = chunks.length - 1;
    chunks.forEach(({ chunk }, i) => this.ws.send(chunk, { binary: true }, i === last ? callback : undefined));
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.ws.close(this.closeCode, this.closeText);
    callback();
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(error ? 1011 : this.closeCode, this.closeText);
    else if (this.ws.readyState === this.ws.CONNECTING) this.ws.terminate();
    callback(error);
  }
}
