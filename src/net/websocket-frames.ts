import { isUtf8 } from 'node:buffer';

/** Frame opcodes (RFC 6455 §5.2). */
export const Opcode = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** What a client's frames may be refused for, named as in errors.ts. */
export type FrameRefusal = 'protocolError' | 'textFrame' | 'packetTooLarge' | 'invalidPayload';

/** Where a FrameReader delivers what it reads. */
export interface FrameSink {
  /** Unmasked payload bytes of a binary message, in order, as they arrive: a frame may come in pieces. */
  binary(bytes: Buffer): void;
  /** A whole control frame: ping, pong or close. */
  control(opcode: number, payload: Buffer): void;
  /** Input that breaks the protocol; nothing after it is read. */
  refused(reason: FrameRefusal, detail: string): void;
}

const MAX_CONTROL_PAYLOAD = 125;

/**
 * Reads the frames a client sends on a server's socket (RFC 6455 §5). Binary payloads stream
 * through unmasked in place, without waiting for the end of their frame or message, so a slow large
 * message is never held in memory; the framer behind finds the MQTT packets in them [MQTT-6.0.0-2].
 * A message's declared size counts against `maxMessageBytes` before its bytes are read.
 */
export class FrameReader {
  /** The start of a header split between reads. */
  private partial: Buffer | undefined;
  private inFrame = false;
  private opcode = 0;
  /** Payload bytes of the current frame still to come. */
  private left = 0;
  private mask = 0;
  /** Position within the 4-byte mask of the next payload byte. */
  private maskOffset = 0;
  private controlParts: Buffer[] | undefined;
  /** A binary message is open: its next frame is a continuation. */
  private inMessage = false;
  private messageBytes = 0;
  private stopped = false;
  private refusal: { reason: FrameRefusal; detail: string } | undefined;
  /** Within the chunk being read: payload gathered at [gatheredFrom, gathered) and not yet handed on. */
  private gatheredFrom = 0;
  private gathered = 0;

  constructor(
    private readonly maxMessageBytes: number,
    private readonly sink: FrameSink,
  ) {}

  /**
   * Reads a chunk from the socket. The payload bytes it holds are unmasked and gathered at its
   * front, over the frame headers, and handed on as one view: one delivery per read, however many
   * frames it held (browsers send one packet per frame).
   */
  push(chunk: Buffer): void {
    if (this.stopped) return;
    const data = this.partial ? Buffer.concat([this.partial, chunk]) : chunk;
    this.partial = undefined;
    this.gatheredFrom = 0;
    this.gathered = 0;
    let at = 0;
    while (at < data.length && !this.stopped) {
      if (!this.inFrame) {
        const used = this.readHeader(data, at);
        if (used === 0) {
          // Copied, so that a few header bytes do not keep a whole read buffer alive.
          if (!this.stopped) this.partial = Buffer.from(data.subarray(at));
          break;
        }
        at += used;
        if (this.left === 0) this.endFrame(data);
        continue;
      }
      const end = Math.min(data.length, at + this.left);
      const bytes = data.subarray(at, end);
      unmask(bytes, this.mask, this.maskOffset);
      this.maskOffset = (this.maskOffset + bytes.length) & 3;
      this.left -= bytes.length;
      if (this.opcode >= Opcode.close) {
        (this.controlParts ??= []).push(bytes);
      } else {
        if (at !== this.gathered) data.copyWithin(this.gathered, at, end);
        this.gathered += end - at;
      }
      at = end;
      if (this.left === 0) this.endFrame(data);
    }
    this.deliver(data);
    if (this.refusal) this.sink.refused(this.refusal.reason, this.refusal.detail);
  }

  /** Hands on the payload gathered so far; what follows it in order (a control frame, a refusal) comes after. */
  private deliver(data: Buffer): void {
    if (this.gathered === this.gatheredFrom) return;
    const bytes = data.subarray(this.gatheredFrom, this.gathered);
    this.gatheredFrom = this.gathered;
    this.sink.binary(bytes);
  }

  /** Reads a frame header at `at`: its size, or 0 when it is not all here yet (or was refused). */
  private readHeader(data: Buffer, at: number): number {
    if (data.length - at < 2) return 0;
    const b0 = data[at] as number;
    const b1 = data[at + 1] as number;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    const lengthCode = b1 & 0x7f;
    if ((b1 & 0x80) === 0) return this.refuse('protocolError', 'client frames must be masked (RFC 6455 §5.1)');
    if ((b0 & 0x70) !== 0) return this.refuse('protocolError', 'reserved frame bits set with no extension agreed');
    if (opcode >= Opcode.close) {
      if (opcode > Opcode.pong) return this.refuse('protocolError', `unknown opcode ${opcode}`);
      if (!fin) return this.refuse('protocolError', 'fragmented control frame');
      if (lengthCode > MAX_CONTROL_PAYLOAD) return this.refuse('protocolError', 'control frame payload over 125 bytes');
    } else if (opcode === Opcode.text) {
      return this.refuse('textFrame', 'a text frame');
    } else if (opcode === Opcode.continuation ? !this.inMessage : opcode !== Opcode.binary || this.inMessage) {
      return this.refuse('protocolError', opcode === Opcode.binary ? 'new message inside a fragmented one' : `unexpected opcode ${opcode}`);
    }
    const size = 6 + (lengthCode === 126 ? 2 : lengthCode === 127 ? 8 : 0);
    if (data.length - at < size) return 0;
    let length = lengthCode;
    if (lengthCode === 126) length = data.readUInt16BE(at + 2);
    else if (lengthCode === 127) length = data.readUInt32BE(at + 2) * 2 ** 32 + data.readUInt32BE(at + 6);
    if (opcode < Opcode.close) {
      this.messageBytes = opcode === Opcode.binary ? length : this.messageBytes + length;
      if (this.messageBytes > this.maxMessageBytes) {
        return this.refuse('packetTooLarge', `WebSocket message of ${this.messageBytes} bytes is over the limit of ${this.maxMessageBytes}`);
      }
      this.inMessage = !fin;
    }
    this.inFrame = true;
    this.opcode = opcode;
    this.left = length;
    this.mask = data.readUInt32BE(at + size - 4);
    this.maskOffset = 0;
    return size;
  }

  private endFrame(data: Buffer): void {
    this.inFrame = false;
    if (this.opcode < Opcode.close) return;
    const parts = this.controlParts ?? [];
    this.controlParts = undefined;
    this.deliver(data);
    // Nothing may follow a close frame (RFC 6455 §5.5.1): what does is not read.
    if (this.opcode === Opcode.close) this.stopped = true;
    // A copy: the payload of a data frame later in this chunk may be gathered over these bytes.
    this.sink.control(this.opcode, Buffer.concat(parts));
  }

  /** Stops reading; the refusal is told once the payload before it has been handed on. */
  private refuse(reason: FrameRefusal, detail: string): 0 {
    this.stopped = true;
    this.refusal = { reason, detail };
    return 0;
  }
}

/** XORs the payload with the 4-byte mask, starting at `offset` within it (RFC 6455 §5.3). */
export function unmask(bytes: Buffer, mask: number, offset: number): void {
  // The mask turned so that its byte `offset` comes first.
  const turned = offset === 0 ? mask : ((mask << (8 * offset)) | (mask >>> (32 - 8 * offset))) >>> 0;
  const k0 = turned >>> 24;
  const k1 = (turned >>> 16) & 0xff;
  const k2 = (turned >>> 8) & 0xff;
  const k3 = turned & 0xff;
  const n = bytes.length;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    bytes[i] = (bytes[i] as number) ^ k0;
    bytes[i + 1] = (bytes[i + 1] as number) ^ k1;
    bytes[i + 2] = (bytes[i + 2] as number) ^ k2;
    bytes[i + 3] = (bytes[i + 3] as number) ^ k3;
  }
  if (i < n) bytes[i] = (bytes[i] as number) ^ k0;
  if (i + 1 < n) bytes[i + 1] = (bytes[i + 1] as number) ^ k1;
  if (i + 2 < n) bytes[i + 2] = (bytes[i + 2] as number) ^ k2;
}

/** The header of an unmasked server frame carrying `length` payload bytes. */
export function frameHeader(opcode: number, length: number): Buffer {
  const size = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
  const header = Buffer.allocUnsafe(size);
  writeHeader(header, opcode, length);
  return header;
}

/** Payloads up to this size are copied behind their header, so a frame is one buffer and one write. */
const COPY_LIMIT = 4096;

/**
 * A whole server frame (FIN set, unmasked) for `payload`: one buffer when it is small, else the
 * header and the payload itself, to be written back to back.
 */
export function frame(opcode: number, payload: Buffer): Buffer | [Buffer, Buffer] {
  const length = payload.length;
  if (length > COPY_LIMIT) return [frameHeader(opcode, length), payload];
  const headerSize = length < 126 ? 2 : 4;
  const out = Buffer.allocUnsafe(headerSize + length);
  writeHeader(out, opcode, length);
  payload.copy(out, headerSize);
  return out;
}

function writeHeader(target: Buffer, opcode: number, length: number): void {
  target[0] = 0x80 | opcode;
  if (length < 126) {
    target[1] = length;
  } else if (length < 0x10000) {
    target[1] = 126;
    target.writeUInt16BE(length, 2);
  } else {
    target[1] = 127;
    target.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    target.writeUInt32BE(length >>> 0, 6);
  }
}

/** The close frame's payload: a status code and a short UTF-8 reason (RFC 6455 §5.5.1). */
export function closePayload(code: number, reason: string): Buffer {
  const text = Buffer.from(reason).subarray(0, MAX_CONTROL_PAYLOAD - 2);
  const payload = Buffer.allocUnsafe(2 + text.length);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  return payload;
}

/**
 * The status code in a client's close frame (1005: none given), or the refusal it earns: a code
 * that may not be sent on the wire, or a reason that is not UTF-8 (RFC 6455 §7.4, §8.1).
 */
export function readClose(payload: Buffer): { code: number } | { refusal: FrameRefusal; detail: string } {
  if (payload.length === 0) return { code: 1005 };
  if (payload.length === 1) return { refusal: 'protocolError', detail: 'close frame with a one-byte payload' };
  const code = payload.readUInt16BE(0);
  if (!closeCodeMaySend(code)) return { refusal: 'protocolError', detail: `close code ${code} may not be sent` };
  if (!isUtf8(payload.subarray(2))) return { refusal: 'invalidPayload', detail: 'close reason is not UTF-8' };
  return { code };
}

function closeCodeMaySend(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}
