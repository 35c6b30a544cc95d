import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet';
import pino from 'pino';
import type { CloseReasonName } from '../../../src/errors.js';
import type { ClientLink } from '../../../src/upstream/upstream.js';

/**
 * A ClientLink in memory: records what the broker sends (decoded) and how it closed; `full` makes
 * send() report a full buffer until `drain()`.
 */
export class MemoryLink implements ClientLink {
  readonly conn: string;
  readonly remote = '127.0.0.1:1';
  readonly transport = 'tcp' as const;
  readonly connectBytes: Buffer;
  readonly log = pino({ level: 'silent' });
  readonly received: Packet[] = [];
  closedWith: CloseReasonName | undefined;
  full = false;
  private readonly parser;
  private readonly drainListeners: (() => void)[] = [];

  constructor(readonly connect: IConnectPacket) {
    this.conn = `mem-${connect.clientId}`;
    const protocolVersion = connect.protocolVersion ?? 4;
    this.connectBytes = mqttPacket.generate(connect, { protocolVersion });
    this.parser = mqttPacket.parser({ protocolVersion });
    this.parser.on('packet', (p: Packet) => this.received.push(p));
  }

  send(bytes: Buffer): boolean {
    this.parser.parse(bytes);
    return !this.full;
  }

  onDrain(listener: () => void): void {
    this.drainListeners.push(listener);
  }

  close(reason: CloseReasonName): void {
    this.closedWith ??= reason;
  }

  drain(): void {
    this.full = false;
    for (const l of this.drainListeners) l();
  }

  of<T extends Packet>(cmd: Packet['cmd']): T[] {
    return this.received.filter((p) => p.cmd === cmd) as T[];
  }
}

export function connectPacket(clientId: string, protocolVersion: 4 | 5 = 4, extra: Partial<IConnectPacket> = {}): IConnectPacket {
  return { cmd: 'connect', protocolId: 'MQTT', protocolVersion, clientId, clean: true, keepalive: 0, ...extra };
}

export function bytes(packet: Packet, protocolVersion: 4 | 5 = 4): Buffer {
  return mqttPacket.generate(packet, { protocolVersion });
}
