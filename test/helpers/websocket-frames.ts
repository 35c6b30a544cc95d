import { randomBytes } from 'node:crypto';

export interface ClientFrameOptions {
  readonly fin?: boolean;
  /** The three reserved bits, as a number 0-7. */
  readonly rsv?: number;
  readonly masked?: boolean;
  /** The 4-byte mask; random when not given. */
  readonly mask?: Buffer;
}

/** A frame as a client sends it (RFC 6455 §5.2): masked, with the shortest length encoding. */
export function clientFrame(opcode: number, payload: Buffer, { fin = true, rsv = 0, masked = true, mask = randomBytes(4) }: ClientFrameOptions = {}): Buffer {
  const length = payload.length;
  const code = length < 126 ? length : length < 0x10000 ? 126 : 127;
  const header = Buffer.alloc(2 + (code === 126 ? 2 : code === 127 ? 8 : 0));
  header[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  header[1] = (masked ? 0x80 : 0) | code;
  if (code === 126) header.writeUInt16BE(length, 2);
  if (code === 127) header.writeBigUInt64BE(BigInt(length), 2);
  if (!masked) return Buffer.concat([header, payload]);
  return Buffer.concat([header, mask, Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] as number)))]);
}
