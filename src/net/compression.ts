import type { PerMessageDeflateOptions } from 'ws';

/**
 * permessage-deflate (RFC 7692) for WS_COMPRESSION=true, sized for many connections. zlib
 * state is made per connection on its first large message and kept for its life, so each
 * setting below bounds memory per connection (deflate ≈ 2^(windowBits+2) + 2^(memLevel+9) bytes).
 * Incoming messages are capped after inflating, by the server's maxPayload, so a small
 * compressed frame cannot expand past MAX_PACKET_SIZE.
 */
export const WS_COMPRESSION_OPTIONS = {
  /** 1 KiB window instead of 32 KiB: MQTT payloads repeat over short distances, if at all. */
  serverMaxWindowBits: 10,
  /** 64 KiB of deflate state instead of 128 KiB. */
  zlibDeflateOptions: { memLevel: 7 },
  /** Messages under 1 KiB go uncompressed: small packets do not shrink enough to pay for the CPU. */
  threshold: 1024,
  /** zlib calls in flight at once, across all connections (they run on the libuv thread pool). */
  concurrencyLimit: 10,
} as const satisfies PerMessageDeflateOptions;

/** The ws server's perMessageDeflate option (a fresh copy: ws keeps what it is given). */
export function perMessageDeflate(): PerMessageDeflateOptions {
  return { ...WS_COMPRESSION_OPTIONS, zlibDeflateOptions: { ...WS_COMPRESSION_OPTIONS.zlibDeflateOptions } };
}
