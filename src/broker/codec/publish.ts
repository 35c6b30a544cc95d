import { isUtf8 } from 'node:buffer';
import { ProtocolViolation } from '../reason-codes.js';
import type { Message, QoS } from '../message.js';
import { varintLength, writeVarint } from './varint.js';

/**
 * PUBLISH is the hot path, so the broker reads and writes it itself instead of through mqtt-packet:
 * no intermediate objects, UTF-8 checked on the bytes, and the forwardable MQTT 5 properties kept
 * as the bytes they arrived in (which also keeps user properties in order [MQTT-3.3.2-18]).
 */

const EMPTY = Buffer.alloc(0);

/** Property identifiers a PUBLISH may carry [MQTT-2.2.2.2]. */
const Prop = {
  payloadFormatIndicator: 0x01,
  messageExpiryInterval: 0x02,
  contentType: 0x03,
  responseTopic: 0x08,
  correlationData: 0x09,
  subscriptionIdentifier: 0x0b,
  topicAlias: 0x23,
  userProperty: 0x26,
} as const;

export interface InboundPublish {
  topic: string;
  qos: QoS;
  dup: boolean;
  retain: boolean;
  packetId: number;
  payload: Buffer;
  /** Forwardable properties, encoded (see Message.properties). */
  properties: Buffer;
  /** Message Expiry Interval in seconds, or -1 when absent. */
  expiry: number;
  /** Topic Alias, or 0 when absent. */
  topicAlias: number;
  /** Payload Format Indicator is 1: the payload must be UTF-8 [MQTT-3.3.2-4]. */
  utf8Payload: boolean;
}

function malformed(message: string): never {
  throw new ProtocolViolation('malformedPacket', message);
}

/** Decodes one whole PUBLISH packet as cut by the framer. Throws ProtocolViolation. */
export function decodePublish(packet: Buffer, v5: boolean): InboundPublish {
  const flags = (packet[0] as number) & 0x0f;
  const qos = (flags >> 1) & 0x03;
  if (qos === 3) malformed('PUBLISH with QoS 3 [MQTT-3.3.1-4]');
  const dup = (flags & 0x08) !== 0;
  if (dup && qos === 0) malformed('DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2]');

  let pos = 1;
  while (((packet[pos++] as number) & 0x80) !== 0);
  const end = packet.length;
  if (pos + 2 > end) malformed('PUBLISH too short for its topic');
  const topicLength = packet.readUInt16BE(pos);
  pos += 2;
  const topicEnd = pos + topicLength;
  if (topicEnd > end) malformed('PUBLISH topic runs past the packet');
  const topic = readTopicName(packet, pos, topicEnd);
  pos = topicEnd;

  let packetId = 0;
  if (qos > 0) {
    if (pos + 2 > end) malformed('PUBLISH too short for its packet identifier');
    packetId = packet.readUInt16BE(pos);
    pos += 2;
    if (packetId === 0) throw new ProtocolViolation('protocolError', 'packet identifier 0 [MQTT-2.2.1-3]');
  }

  const out: InboundPublish = {
    topic,
    qos: qos as QoS,
    dup,
    retain: (flags & 0x01) !== 0,
    packetId,
    payload: EMPTY,
    properties: EMPTY,
    expiry: -1,
    topicAlias: 0,
    utf8Payload: false,
  };
  if (v5) pos = readProperties(packet, pos, out);
  out.payload = packet.subarray(pos);
  return out;
}

/** Reads a topic name, rejecting invalid UTF-8 [MQTT-1.5.4-1], U+0000 [MQTT-1.5.4-2] and wildcards [MQTT-3.3.2-2]. */
function readTopicName(packet: Buffer, start: number, end: number): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    const b = packet[i] as number;
    if (b === 0x2b || b === 0x23) throw new ProtocolViolation('protocolError', 'wildcard in a PUBLISH topic [MQTT-3.3.2-2]');
    if (b === 0) malformed('U+0000 in a topic name [MQTT-1.5.4-2]');
    if (b >= 0x80) ascii = false;
  }
  if (ascii) return packet.toString('latin1', start, end);
  if (!isUtf8(packet.subarray(start, end))) malformed('topic name is not valid UTF-8 [MQTT-1.5.4-1]');
  return packet.toString('utf8', start, end);
}

function readVarint(packet: Buffer, pos: number): [value: number, next: number] {
  let value = 0;
  let multiplier = 1;
  for (let i = 0; i < 4; i++) {
    if (pos >= packet.length) malformed('variable byte integer runs past the packet');
    const b = packet[pos++] as number;
    value += (b & 0x7f) * multiplier;
    if ((b & 0x80) === 0) return [value, pos];
    multiplier *= 128;
  }
  return malformed('variable byte integer longer than four bytes');
}

/** Parses the properties of a PUBLISH into `out`; returns where the payload starts. */
function readProperties(packet: Buffer, start: number, out: InboundPublish): number {
  const [length, first] = readVarint(packet, start);
  const end = first + length;
  if (end > packet.length) malformed('PUBLISH properties run past the packet');
  // Forwardable properties are usually contiguous; gather their byte ranges.
  const ranges: number[] = [];
  let seen = 0;
  let pos = first;
  while (pos < end) {
    const at = pos;
    const id = packet[pos++] as number;
    if (id !== Prop.userProperty) {
      // Every PUBLISH property but User Property may appear once [MQTT-2.2.2-2].
      const bit = id === Prop.topicAlias ? 1 << 16 : 1 << (id & 0x0f);
      if ((seen & bit) !== 0) throw new ProtocolViolation('protocolError', `property 0x${id.toString(16)} repeated`);
      seen |= bit;
    }
    switch (id) {
      case Prop.payloadFormatIndicator: {
        const v = packet[pos++];
        if (v !== 0 && v !== 1) throw new ProtocolViolation('protocolError', 'payload format indicator not 0 or 1');
        out.utf8Payload = v === 1;
        break;
      }
      case Prop.messageExpiryInterval:
        if (pos + 4 > end) malformed('message expiry interval runs past the properties');
        out.expiry = packet.readUInt32BE(pos);
        pos += 4;
        continue;
      case Prop.topicAlias:
        if (pos + 2 > end) malformed('topic alias runs past the properties');
        out.topicAlias = packet.readUInt16BE(pos);
        if (out.topicAlias === 0) throw new ProtocolViolation('topicAliasInvalid', 'topic alias 0 [MQTT-3.3.2-8]');
        pos += 2;
        continue;
      case Prop.contentType:
      case Prop.responseTopic:
        pos = skipUtf8(packet, pos, end);
        break;
      case Prop.correlationData:
        pos = skipBinary(packet, pos, end);
        break;
      case Prop.userProperty:
        pos = skipUtf8(packet, skipUtf8(packet, pos, end), end);
        break;
      case Prop.subscriptionIdentifier:
        throw new ProtocolViolation('protocolError', 'subscription identifier sent by a client [MQTT-3.3.4-6]');
      default:
        malformed(`property 0x${id.toString(16)} not allowed in PUBLISH`);
    }
    if (pos > end) malformed('property runs past the properties');
    if (ranges.length > 0 && ranges[ranges.length - 1] === at) ranges[ranges.length - 1] = pos;
    else ranges.push(at, pos);
  }
  if (ranges.length === 2) out.properties = packet.subarray(ranges[0], ranges[1]);
  else if (ranges.length > 2) {
    const parts: Buffer[] = [];
    for (let i = 0; i < ranges.length; i += 2) parts.push(packet.subarray(ranges[i], ranges[i + 1]));
    out.properties = Buffer.concat(parts);
  }
  return end;
}

function skipBinary(packet: Buffer, pos: number, end: number): number {
  if (pos + 2 > end) malformed('string runs past the properties');
  const next = pos + 2 + packet.readUInt16BE(pos);
  if (next > end) malformed('string runs past the properties');
  return next;
}

function skipUtf8(packet: Buffer, pos: number, end: number): number {
  const next = skipBinary(packet, pos, end);
  const text = packet.subarray(pos + 2, next);
  if (!isUtf8(text) || text.includes(0)) malformed('property string is not valid UTF-8 [MQTT-1.5.4-1]');
  return next;
}

/** How one subscriber gets a message. */
export interface PublishShape {
  v5: boolean;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  packetId: number;
  /** Message Expiry Interval to send, or -1 for none. */
  expiry: number;
  /** Subscription Identifiers to send (MQTT 5), or null. */
  subIds: readonly number[] | null;
}

/** Offset of the packet identifier in an encoded PUBLISH of `msg` with QoS > 0. */
export function packetIdOffset(encoded: Buffer, msg: Message): number {
  let pos = 1;
  while (((encoded[pos++] as number) & 0x80) !== 0);
  return pos + 2 + msg.topicBytes;
}

/** Encodes the PUBLISH one subscriber receives. */
export function encodePublish(msg: Message, shape: PublishShape): Buffer {
  const { v5, qos } = shape;
  let propsLength = 0;
  if (v5) {
    propsLength = msg.properties.length;
    if (shape.expiry >= 0) propsLength += 5;
    if (shape.subIds !== null) for (const id of shape.subIds) propsLength += 1 + varintLength(id);
  }
  const remaining =
    2 + msg.topicBytes + (qos > 0 ? 2 : 0) + (v5 ? varintLength(propsLength) + propsLength : 0) + msg.payload.length;
  const buf = Buffer.allocUnsafe(1 + varintLength(remaining) + remaining);
  buf[0] = 0x30 | (shape.dup ? 0x08 : 0) | (qos << 1) | (shape.retain ? 1 : 0);
  let pos = writeVarint(buf, 1, remaining);
  buf.writeUInt16BE(msg.topicBytes, pos);
  pos += 2;
  pos += buf.write(msg.topic, pos, 'utf8');
  if (qos > 0) {
    buf.writeUInt16BE(shape.packetId, pos);
    pos += 2;
  }
  if (v5) {
    pos = writeVarint(buf, pos, propsLength);
    pos += msg.properties.copy(buf, pos);
    if (shape.expiry >= 0) {
      buf[pos++] = Prop.messageExpiryInterval;
      buf.writeUInt32BE(shape.expiry, pos);
      pos += 4;
    }
    if (shape.subIds !== null) {
      for (const id of shape.subIds) {
        buf[pos++] = Prop.subscriptionIdentifier;
        pos = writeVarint(buf, pos, id);
      }
    }
  }
  msg.payload.copy(buf, pos);
  return buf;
}
