import net from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { TrustedProxies } from './trusted-proxies.js';
import { plainAddress } from './trusted-proxies.js';

/** One end of a TCP connection; `port` is null when a proxy told us the address only. */
export interface Endpoint {
  readonly address: string;
  readonly port: number | null;
}

/** Who connected (the client, as believed) and where to (the address it reached). */
export interface ConnectionAddresses {
  readonly source: Endpoint;
  readonly destination: Endpoint;
}

/** `ip:port`, `[v6]:port`, or the bare address when the port is unknown: the `remote` log field. */
export function formatEndpoint({ address, port }: Endpoint): string {
  if (port === null) return address;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The addresses as the socket sees them, without any proxy's word. */
export function socketAddresses(socket: net.Socket): ConnectionAddresses {
  return {
    source: { address: plainAddress(socket.remoteAddress ?? 'unknown'), port: socket.remotePort ?? null },
    destination: { address: plainAddress(socket.localAddress ?? 'unknown'), port: socket.localPort ?? null },
  };
}

export interface UpgradeAddress {
  readonly addresses: ConnectionAddresses;
  /** Which header named the client, when one was believed. */
  readonly via?: 'forwarded' | 'x-forwarded-for';
  /** Set when the headers were present but not believed (untrusted peer, or no usable address). */
  readonly ignored?: string;
}

/**
 * The client behind a WebSocket upgrade. `Forwarded` (RFC 7239) and `X-Forwarded-For` list the
 * hops from the client to our peer; we walk them from our side, past every trusted proxy, and the
 * first hop we do not trust is the client. Only a trusted peer gets to start that walk.
 */
export function upgradeAddress(req: IncomingMessage, trusted: TrustedProxies): UpgradeAddress {
  const direct = socketAddresses(req.socket);
  const forwarded = headerText(req.headers.forwarded);
  const xff = headerText(req.headers['x-forwarded-for']);
  if (forwarded === undefined && xff === undefined) return { addresses: direct };
  if (!trusted.has(direct.source.address)) {
    return { addresses: direct, ignored: `forwarding headers from untrusted peer ${direct.source.address}` };
  }
  const via = forwarded !== undefined ? 'forwarded' : 'x-forwarded-for';
  const hops = forwarded !== undefined ? forwardedHops(forwarded) : (xff as string).split(',').map((hop) => parseHop(hop.trim()));
  const client = walkHops(hops, trusted);
  if (client === null) return { addresses: direct, ignored: `${via} header names no usable client address` };
  return { addresses: { source: client, destination: direct.destination }, via };
}

function headerText(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value.join(',') : value;
  return text === undefined || text.trim() === '' ? undefined : text;
}

function walkHops(hops: readonly (Endpoint | null)[], trusted: TrustedProxies): Endpoint | null {
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i];
    if (hop === null || hop === undefined) return null;
    if (i === 0 || !trusted.has(hop.address)) return hop;
  }
  return null;
}

/** The `for=` of each element of a Forwarded header, in order; null for an element without a usable one. */
export function forwardedHops(header: string): (Endpoint | null)[] {
  return splitOutsideQuotes(header, ',').map((element) => {
    for (const pair of splitOutsideQuotes(element, ';')) {
      const eq = pair.indexOf('=');
      if (eq < 0 || pair.slice(0, eq).trim().toLowerCase() !== 'for') continue;
      return parseHop(pair.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
    }
    return null;
  });
}

/** `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:4711`, `[2001:db8::1]` or `2001:db8::1`; null for `unknown`, `_hidden`. */
export function parseHop(text: string): Endpoint | null {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return endpoint(bracketed[1] as string, bracketed[2]);
  if (net.isIPv6(text)) return endpoint(text, undefined);
  const [address = '', port, extra] = text.split(':');
  return extra === undefined && (port === undefined || /^\d+$/.test(port)) ? endpoint(address, port) : null;
}

function endpoint(address: string, port: string | undefined): Endpoint | null {
  if (net.isIP(address) === 0) return null;
  const n = port === undefined ? null : Number(port);
  return { address: plainAddress(address), port: n !== null && n <= 65535 ? n : null };
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') quoted = !quoted;
    else if (ch === '\\' && quoted) i++;
    else if (ch === separator && !quoted) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(text.slice(start).trim());
  return parts.filter((part) => part !== '');
}
