import { EventEmitter } from 'node:events';
import net from 'node:net';
import WebSocket, { type ClientOptions } from 'ws';
import mqttPacket, { type Packet, type PacketCmd, type QoS } from 'mqtt-packet';
import { waitEvent, within } from './wait.js';

/**
 * Raw MQTT for tests that must see the wire: packets built with mqtt-packet's generate, and
 * clients (WebSocket or TCP) that record every packet received and how the connection closed.
 */

export type ProtocolVersion = 4 | 5;

export function connectBytes(clientId: string, protocolVersion: ProtocolVersion = 4, clean = true): Buffer {
  return mqttPacket.generate(
    { cmd: 'connect', protocolId: 'MQTT', protocolVersion, clientId, clean, keepalive: 0 },
    { protocolVersion },
  );
}

export function publishBytes(
  topic: string,
  payload: Buffer | string,
  options: { qos?: QoS; messageId?: number; protocolVersion?: ProtocolVersion } = {},
): Buffer {
  const { qos = 0, messageId, protocolVersion = 4 } = options;
  return mqttPacket.generate(
    { cmd: 'publish', topic, payload, qos, retain: false, dup: false, ...(qos > 0 && { messageId: messageId ?? 1 }) },
    { protocolVersion },
  );
}

export function subscribeBytes(topic: string, qos: QoS = 0, protocolVersion: ProtocolVersion = 4): Buffer {
  return mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos }] }, { protocolVersion });
}

export function packetBytes(packet: Packet, protocolVersion: ProtocolVersion = 4): Buffer {
  return mqttPacket.generate(packet, { protocolVersion });
}

/** Every packet parsed from a byte stream, in order; emits 'packet' for each. */
export class PacketLog extends EventEmitter {
  readonly packets: Packet[] = [];
  private readonly counts = new Map<PacketCmd, number>();
  private readonly parser;
  /** Set when the bytes were not valid MQTT. */
  error: Error | undefined;

  constructor(protocolVersion: ProtocolVersion = 4, private readonly keep = true) {
    super();
    this.parser = mqttPacket.parser({ protocolVersion });
    this.parser.on('packet', (packet: Packet) => {
      if (this.keep) this.packets.push(packet);
      this.counts.set(packet.cmd, this.count(packet.cmd) + 1);
      this.emit('packet', packet);
    });
    this.parser.on('error', (err: Error) => (this.error ??= err));
  }

  push(bytes: Buffer): void {
    this.parser.parse(bytes);
  }

  count(cmd: PacketCmd): number {
    return this.counts.get(cmd) ?? 0;
  }

  /** The first packet of this kind, already received or still to come (when packets are kept). */
  async first<T extends Packet = Packet>(cmd: PacketCmd, ms = 5000): Promise<T> {
    const seen = this.packets.find((p) => p.cmd === cmd);
    if (seen) return seen as T;
    return within(
      new Promise<T>((resolve) => {
        const onPacket = (packet: Packet): void => {
          if (packet.cmd !== cmd) return;
          this.off('packet', onPacket);
          resolve(packet as T);
        };
        this.on('packet', onPacket);
      }),
      ms,
      `an MQTT ${cmd} packet`,
    );
  }
}

export interface WsClose {
  code: number;
  reason: string;
  /** How many packets had been received when the close arrived. */
  packetsBefore: number;
  at: number;
}

/** A WebSocket client speaking raw MQTT: each packet it sends is one binary frame. */
export class RawWsClient {
  readonly log: PacketLog;
  /** Settles when the WebSocket has closed (never rejects; an error before the close is kept in `error`). */
  readonly closed: Promise<WsClose>;
  error: Error | undefined;

  private constructor(
    readonly ws: WebSocket,
    protocolVersion: ProtocolVersion,
    keepPackets: boolean,
  ) {
    this.log = new PacketLog(protocolVersion, keepPackets);
    ws.on('message', (data: Buffer) => this.log.push(data));
    ws.on('error', (err) => (this.error ??= err));
    this.closed = new Promise((resolve) =>
      ws.once('close', (code: number, reason: Buffer) =>
        resolve({ code, reason: reason.toString(), packetsBefore: this.log.packets.length, at: Date.now() }),
      ),
    );
  }

  /** Opens the WebSocket with the `mqtt` subprotocol; rejects if the handshake fails. */
  static async open(
    url: string,
    options: { protocolVersion?: ProtocolVersion; keepPackets?: boolean; ws?: ClientOptions } = {},
  ): Promise<RawWsClient> {
    const ws = new WebSocket(url, 'mqtt', options.ws);
    const client = new RawWsClient(ws, options.protocolVersion ?? 4, options.keepPackets ?? true);
    await Promise.race([
      waitEvent(ws, 'open'),
      client.closed.then(() => {
        throw client.error ?? new Error('WebSocket closed during the handshake');
      }),
    ]);
    return client;
  }

  send(bytes: Buffer): void {
    this.ws.send(bytes);
  }

  /** Sends CONNECT and waits for the CONNACK. */
  async connect(clientId: string, protocolVersion: ProtocolVersion = 4, clean = true): Promise<mqttPacket.IConnackPacket> {
    this.send(connectBytes(clientId, protocolVersion, clean));
    return this.log.first<mqttPacket.IConnackPacket>('connack');
  }

  /** Closes (if still open) and waits for the close to complete. */
  async close(): Promise<WsClose> {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close();
    return within(this.closed, 5000, 'the WebSocket to close');
  }
}

/** A raw MQTT client over plain TCP. */
export class RawTcpClient {
  readonly log: PacketLog;
  /** Settles when the socket has closed. */
  readonly closed: Promise<{ at: number; hadError: boolean }>;
  error: Error | undefined;
  bytesReceived = 0;

  private constructor(
    readonly socket: net.Socket,
    protocolVersion: ProtocolVersion,
    keepPackets: boolean,
  ) {
    this.log = new PacketLog(protocolVersion, keepPackets);
    socket.on('data', (chunk: Buffer) => {
      this.bytesReceived += chunk.length;
      this.log.push(chunk);
    });
    socket.on('error', (err) => (this.error ??= err));
    this.closed = new Promise((resolve) => socket.once('close', (hadError) => resolve({ at: Date.now(), hadError })));
  }

  /** keepPackets false: packets are only counted (for floods). */
  static async open(port: number, protocolVersion: ProtocolVersion = 4, keepPackets = true): Promise<RawTcpClient> {
    const socket = net.connect(port, '127.0.0.1');
    const client = new RawTcpClient(socket, protocolVersion, keepPackets);
    await waitEvent(socket, 'connect');
    return client;
  }

  async close(): Promise<void> {
    this.socket.destroy();
    await within(this.closed, 5000, 'the TCP socket to close');
  }
}
