import { PacketType } from './framer.js';

/**
 * CONNACK codes by name, for labels and messages. 3.1.1 return codes (1–5) [MQTT-3.2.2.3] and
 * 5.0 reason codes (0x80 and up) [MQTT-3.2.2.2] do not overlap, so one table reads both.
 */
const CONNACK_CODE_NAMES: Readonly<Record<number, string>> = {
  0x00: 'success',
  0x01: 'unacceptable_protocol_version',
  0x02: 'identifier_rejected',
  0x03: 'server_unavailable',
  0x04: 'bad_username_or_password',
  0x05: 'not_authorized',
  0x80: 'unspecified_error',
  0x81: 'malformed_packet',
  0x82: 'protocol_error',
  0x83: 'implementation_specific_error',
  0x84: 'unsupported_protocol_version',
  0x85: 'client_identifier_not_valid',
  0x86: 'bad_username_or_password',
  0x87: 'not_authorized',
  0x88: 'server_unavailable',
  0x89: 'server_busy',
  0x8a: 'banned',
  0x8c: 'bad_authentication_method',
  0x90: 'topic_name_invalid',
  0x95: 'packet_too_large',
  0x97: 'quota_exceeded',
  0x99: 'payload_format_invalid',
  0x9a: 'retain_not_supported',
  0x9b: 'qos_not_supported',
  0x9c: 'use_another_server',
  0x9d: 'server_moved',
  0x9f: 'connection_rate_exceeded',
};

export function connackCodeName(code: number): string {
  return CONNACK_CODE_NAMES[code] ?? `code_0x${code.toString(16).padStart(2, '0')}`;
}

/**
 * The return/reason code of the CONNACK at the start of `head`: the byte after the fixed header
 * and the acknowledge flags. undefined: not enough bytes yet; null: `head` does not start with a CONNACK.
 */
export function connackCode(head: Buffer): number | null | undefined {
  if (head.length === 0) return undefined;
  if ((head[0] as number) >> 4 !== PacketType.connack) return null;
  // Remaining Length: up to four bytes, seven bits each [MQTT-2.2.3].
  for (let i = 1; i <= 4; i++) {
    if (i >= head.length) return undefined;
    if (((head[i] as number) & 0x80) === 0) {
      const at = i + 2;
      return at < head.length ? (head[at] as number) : undefined;
    }
  }
  return null;
}
