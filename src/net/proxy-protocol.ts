import net from 'node:net';
import { GatewayError } from '../errors.js';
import type { ConnectionAddresses, Endpoint } from './client-address.js';
import { plainAddress } from './trusted-proxies.js';

/**
 * The PROXY protocol (HAProxy, versions 1 and 2): a header a proxy sends first on a TCP connection,
 * naming the client it relays. We read it from load balancers on the raw MQTT listeners and write
 * it to the backend broker, so both ends learn the real client address.
 * Spec: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt
 */

/** `\r\n\r\n\0\r\nQUIT\n` opens every v2 header (section 2.2). */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_SIGNATURE = Buffer.from('PROXY ');
/** The longest v1 line, CRLF included (section 2.1). */
const V1_MAX_LENGTH = 107;

export const PP2 = {
  commandLocal: 0x20,
  commandProxy: 0x21,
  tcp4: 0x11,
  tcp6: 0x21,
  unspec: 0x00,
  typeSsl: 0x20,
  subtypeSslVersion: 0x21,
  subtypeSslCn: 0x22,
  clientSsl: 0x01,
  clientCertConn: 0x02,
} as const;

export interface ProxyTlv {
  readonly type: number;
  readonly value: Buffer;
}

export interface ProxyHeader {
  readonly version: 1 | 2;
  /** null: LOCAL (the proxy's own connection, e.g. a health check), UNKNOWN or an unsupported family. */
  readonly addresses: ConnectionAddresses | null;
  readonly tlvs: readonly ProxyTlv[];
  /** Byte length of the header on the wire. */
  readonly length: number;
}

export class ProxyProtocolError extends GatewayError {
  constructor(message: string) {
    super('ERR_PROXY_PROTOCOL', message);
  }
}

/** What identifies the client to the backend in a v2 header, besides its address. */
export interface ProxyTlsInfo {
  /** CN of the verified client certificate. */
  readonly commonName: string;
}

/** `PROXY TCP4 src dst sport dport\r\n`; `PROXY UNKNOWN\r\n` when the addresses are not IPs. */
export function encodeProxyV1(addresses: ConnectionAddresses): Buffer {
  const pair = addressPair(addresses);
  if (pair === null) return Buffer.from('PROXY UNKNOWN\r\n');
  const { family, source, destination } = pair;
  return Buffer.from(
    `PROXY TCP${family} ${source.address} ${destination.address} ${source.port ?? 0} ${destination.port ?? 0}\r\n`,
  );
}

/** The binary header: PROXY command over TCP, addresses, and the SSL TLV when a verified certificate names the client. */
export function encodeProxyV2(addresses: ConnectionAddresses, tlsInfo?: ProxyTlsInfo): Buffer {
  const pair = addressPair(addresses);
  const addressBlock = pair === null ? Buffer.alloc(0) : Buffer.concat([
    ipBytes(pair.source.address, pair.family),
    ipBytes(pair.destination.address, pair.family),
    port16(pair.source.port ?? 0),
    port16(pair.destination.port ?? 0),
  ]);
  const tlvs = tlsInfo ? sslTlv(tlsInfo) : Buffer.alloc(0);
  const length = addressBlock.length + tlvs.length;
  if (length > 0xffff) throw new ProxyProtocolError('PROXY v2 header longer than 65535 bytes');
  const fixed = Buffer.alloc(4);
  fixed[0] = PP2.commandProxy;
  fixed[1] = pair === null ? PP2.unspec : pair.family === 4 ? PP2.tcp4 : PP2.tcp6;
  fixed.writeUInt16BE(length, 2);
  return Buffer.concat([V2_SIGNATURE, fixed, addressBlock, tlvs]);
}

/** PP2_TYPE_SSL: client flags, verify = 0 (verified), then PP2_SUBTYPE_SSL_CN (section 2.2.5). */
function sslTlv({ commonName }: ProxyTlsInfo): Buffer {
  const cn = tlv(PP2.subtypeSslCn, Buffer.from(commonName, 'utf8'));
  const head = Buffer.alloc(5);
  head[0] = PP2.clientSsl | PP2.clientCertConn;
  head.writeUInt32BE(0, 1);
  return tlv(PP2.typeSsl, Buffer.concat([head, cn]));
}

function tlv(type: number, value: Buffer): Buffer {
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16BE(value.length, 1);
  return Buffer.concat([head, value]);
}

type Pair = { family: 4 | 6; source: Endpoint; destination: Endpoint };

/** Both addresses in one family; a v4/v6 mix is said in IPv6, with the IPv4 one mapped (::ffff:a.b.c.d). */
function addressPair({ source, destination }: ConnectionAddresses): Pair | null {
  const s = plainAddress(source.address);
  const d = plainAddress(destination.address);
  const sf = net.isIP(s);
  const df = net.isIP(d);
  if (sf === 0 || df === 0) return null;
  if (sf === 4 && df === 4) return { family: 4, source: { ...source, address: s }, destination: { ...destination, address: d } };
  const v6 = (address: string, family: number) => (family === 4 ? `::ffff:${address}` : address);
  return { family: 6, source: { ...source, address: v6(s, sf) }, destination: { ...destination, address: v6(d, df) } };
}

function port16(port: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(port);
  return b;
}

function ipBytes(address: string, family: 4 | 6): Buffer {
  if (family === 4) return Buffer.from(address.split('.').map(Number));
  const out = Buffer.alloc(16);
  ipv6Words(address).forEach((word, i) => out.writeUInt16BE(word, i * 2));
  return out;
}

/** The eight 16-bit groups of an IPv6 address, "::" expanded and a dotted IPv4 tail included. */
function ipv6Words(address: string): number[] {
  let text = address.replace(/%.*$/, '');
  const tail: number[] = [];
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a = 0, b = 0, c = 0, d = 0] = (v4[2] as string).split('.').map(Number);
    tail.push((a << 8) | b, (c << 8) | d);
    text = v4[1] as string;
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const groups = (part: string | undefined): number[] =>
    part === undefined || part === '' ? [] : part.split(':').map((g) => parseInt(g, 16));
  const [head, rest] = text.split('::');
  const left = groups(head);
  if (rest === undefined) return [...left, ...tail];
  const right = [...groups(rest), ...tail];
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

function ipText(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(bytes.readUInt16BE(i));
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return [...bytes.subarray(12)].join('.');
  }
  // The longest run of zero groups becomes "::" (RFC 5952 §4.2).
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLength).join(':')}`;
}

export type ParseResult =
  | { readonly status: 'incomplete' }
  | { readonly status: 'absent' }
  | { readonly status: 'done'; readonly header: ProxyHeader };

/**
 * Looks for a PROXY header at the start of `buf`: 'absent' as soon as the bytes cannot begin one
 * (MQTT's first byte never matches either signature), 'incomplete' while more bytes are needed.
 * Throws ProxyProtocolError when a header has begun but is malformed.
 */
export function parseProxyHeader(buf: Buffer): ParseResult {
  if (startsLike(buf, V2_SIGNATURE)) return buf.length < V2_SIGNATURE.length ? incomplete : parseV2(buf);
  if (startsLike(buf, V1_SIGNATURE)) return buf.length < V1_SIGNATURE.length ? incomplete : parseV1(buf);
  return { status: 'absent' };
}

const incomplete = { status: 'incomplete' } as const;

/** True when buf and signature agree on their common length. */
function startsLike(buf: Buffer, signature: Buffer): boolean {
  const n = Math.min(buf.length, signature.length);
  return n > 0 && buf.subarray(0, n).equals(signature.subarray(0, n));
}

function parseV1(buf: Buffer): ParseResult {
  const end = buf.subarray(0, V1_MAX_LENGTH).indexOf('\r\n');
  if (end < 0) {
    if (buf.length >= V1_MAX_LENGTH) throw new ProxyProtocolError('PROXY v1 line longer than 107 bytes');
    return incomplete;
  }
  const length = end + 2;
  const fields = buf.toString('latin1', 0, end).split(' ');
  if (fields[1] === 'UNKNOWN') return done({ version: 1, addresses: null, tlvs: [], length });
  const [, proto, src, dst, sport, dport] = fields;
  const family = proto === 'TCP4' ? 4 : proto === 'TCP6' ? 6 : 0;
  if (fields.length !== 6 || family === 0 || net.isIP(src ?? '') !== family || net.isIP(dst ?? '') !== family) {
    throw new ProxyProtocolError(`malformed PROXY v1 line: ${JSON.stringify(buf.toString('latin1', 0, end))}`);
  }
  return done({
    version: 1,
    addresses: { source: { address: plainAddress(src as string), port: v1Port(sport) }, destination: { address: plainAddress(dst as string), port: v1Port(dport) } },
    tlvs: [],
    length,
  });
}

function v1Port(text: string | undefined): number {
  const n = Number(text);
  if (!/^\d{1,5}$/.test(text ?? '') || n > 65535) throw new ProxyProtocolError(`bad port in PROXY v1 line: ${text}`);
  return n;
}

function parseV2(buf: Buffer): ParseResult {
  if (buf.length < 16) return incomplete;
  const verCmd = buf[12] as number;
  if (verCmd >> 4 !== 2) throw new ProxyProtocolError(`PROXY v2 header with version ${verCmd >> 4}`);
  const command = verCmd & 0x0f;
  if (command > 1) throw new ProxyProtocolError(`PROXY v2 header with command ${command}`);
  const family = buf[13] as number;
  const length = 16 + buf.readUInt16BE(14);
  if (buf.length < length) return incomplete;
  const body = buf.subarray(16, length);
  const addressLength = family === PP2.tcp4 ? 12 : family === PP2.tcp6 ? 36 : 0;
  if (body.length < addressLength) throw new ProxyProtocolError('PROXY v2 address block shorter than its family needs');
  let addresses: ConnectionAddresses | null = null;
  // LOCAL: the proxy speaks for itself (health checks); the addresses, if any, are to be ignored.
  if (command === 1 && addressLength > 0) {
    const size = family === PP2.tcp4 ? 4 : 16;
    addresses = {
      source: { address: ipText(body.subarray(0, size)), port: body.readUInt16BE(2 * size) },
      destination: { address: ipText(body.subarray(size, 2 * size)), port: body.readUInt16BE(2 * size + 2) },
    };
  }
  // Unix and unsupported families: their address block is skipped as a whole, with no TLVs read from it.
  const known = family === PP2.tcp4 || family === PP2.tcp6 || family === PP2.unspec;
  const tlvs = known ? parseTlvs(body.subarray(addressLength)) : [];
  return done({ version: 2, addresses, tlvs, length });
}

export function parseTlvs(bytes: Buffer): ProxyTlv[] {
  const tlvs: ProxyTlv[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (offset + 3 > bytes.length) throw new ProxyProtocolError('truncated PROXY v2 TLV');
    const type = bytes[offset] as number;
    const end = offset + 3 + bytes.readUInt16BE(offset + 1);
    if (end > bytes.length) throw new ProxyProtocolError('PROXY v2 TLV longer than the header');
    tlvs.push({ type, value: bytes.subarray(offset + 3, end) });
    offset = end;
  }
  return tlvs;
}

/** The CN inside a PP2_TYPE_SSL TLV, if the proxy verified a client certificate. */
export function sslCommonName(tlvs: readonly ProxyTlv[]): string | undefined {
  const ssl = tlvs.find((t) => t.type === PP2.typeSsl);
  if (!ssl || ssl.value.length < 5 || ssl.value.readUInt32BE(1) !== 0) return undefined;
  return parseTlvs(ssl.value.subarray(5)).find((t) => t.type === PP2.subtypeSslCn)?.value.toString('utf8');
}

function done(header: ProxyHeader): ParseResult {
  return { status: 'done', header };
}

/**
 * Reads a PROXY header, if one begins the connection, from a socket that has not been read yet.
 * Resolves with the header (or null when the bytes are not one) and leaves the socket paused with
 * every byte after the header put back, for whoever reads it next. Rejects on a malformed header,
 * on close, or when the header is not complete within timeoutMs.
 */
export function readProxyHeader(socket: net.Socket, timeoutMs: number): Promise<ProxyHeader | null> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    const finish = (error: Error | null, header: ProxyHeader | null = null, rest?: Buffer): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onClose);
      socket.pause();
      if (rest !== undefined && rest.length > 0) socket.unshift(rest);
      if (error) reject(error);
      else resolve(header);
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      let result: ParseResult;
      try {
        result = parseProxyHeader(buffered);
      } catch (err) {
        finish(err as Error);
        return;
      }
      if (result.status === 'absent') finish(null, null, buffered);
      else if (result.status === 'done') finish(null, result.header, buffered.subarray(result.header.length));
    };
    const onClose = (): void => finish(new ProxyProtocolError('connection closed before the PROXY header was read'));
    const timer = setTimeout(
      () => finish(new ProxyProtocolError(`no complete PROXY header within ${timeoutMs} ms`)),
      timeoutMs,
    ).unref();
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onClose);
  });
}

/**
 * The header the bridge sends its backend for one client (BROKER_PROXY_PROTOCOL); null when off.
 * Without known addresses it says UNKNOWN / UNSPEC, so the backend uses the connection's own.
 */
export function proxyHeaderFor(
  version: 'off' | 'v1' | 'v2',
  client: { readonly addresses?: ConnectionAddresses | undefined; readonly peerCertificateSubject?: string | undefined },
): Buffer | null {
  if (version === 'off') return null;
  const addresses = client.addresses ?? unknownAddresses;
  if (version === 'v1') return encodeProxyV1(addresses);
  const cn = client.peerCertificateSubject;
  return encodeProxyV2(addresses, cn === undefined ? undefined : { commonName: cn });
}

const unknownAddresses: ConnectionAddresses = {
  source: { address: 'unknown', port: null },
  destination: { address: 'unknown', port: null },
};
