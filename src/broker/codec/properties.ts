import type { UserProperties } from 'mqtt-packet';

/** The properties a will message carries on to subscribers, as mqtt-packet decodes them. */
export interface ForwardProperties {
  payloadFormatIndicator?: boolean;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
}

function utf8(id: number, value: string): Buffer {
  const text = Buffer.from(value, 'utf8');
  const out = Buffer.allocUnsafe(3 + text.length);
  out[0] = id;
  out.writeUInt16BE(text.length, 1);
  text.copy(out, 3);
  return out;
}

/** Encodes the forwardable properties (see Message.properties) of a will message. */
export function encodeForwardProperties(props: ForwardProperties | undefined): Buffer {
  if (props === undefined) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  if (props.payloadFormatIndicator !== undefined) parts.push(Buffer.from([0x01, props.payloadFormatIndicator ? 1 : 0]));
  if (props.contentType !== undefined) parts.push(utf8(0x03, props.contentType));
  if (props.responseTopic !== undefined) parts.push(utf8(0x08, props.responseTopic));
  if (props.correlationData !== undefined) {
    const data = props.correlationData;
    const head = Buffer.from([0x09, data.length >> 8, data.length & 0xff]);
    parts.push(head, data);
  }
  for (const [name, value] of Object.entries(props.userProperties ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) {
      const pair = utf8(0x26, name);
      parts.push(pair, utf8(0, v).subarray(1));
    }
  }
  return Buffer.concat(parts);
}
