import http from 'node:http';
import mqttPacket from 'mqtt-packet';
import WebSocket from 'ws';
import { waitEvent } from './wait.js';

export const encode = (packet: mqttPacket.Packet, protocolVersion = 4): Buffer =>
  mqttPacket.generate(packet, { protocolVersion });

export const connectPacket = (clientId: string, protocolVersion: 4 | 5 = 4): Buffer =>
  encode({ cmd: 'connect', clientId, protocolVersion, clean: true, keepalive: 60 }, protocolVersion);

/** A raw WebSocket client that collects every MQTT packet it receives, whatever the frames. */
export class RawClient {
  readonly packets: mqttPacket.Packet[] = [];
  private readonly parser: mqttPacket.Parser;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket, protocolVersion: number) {
    this.parser = mqttPacket.parser({ protocolVersion });
    this.parser.on('packet', (p: mqttPacket.Packet) => {
      this.packets.push(p);
      ws.emit('mqtt-packet', p);
    });
    ws.on('message', (data: Buffer) => this.parser.parse(data));
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static async open(url: string, options: WebSocket.ClientOptions & { protocols?: string | string[]; protocolVersion?: number } = {}): Promise<RawClient> {
    const { protocols = 'mqtt', protocolVersion = 4, ...rest } = options;
    const ws = new WebSocket(url, protocols, rest);
    const client = new RawClient(ws, protocolVersion);
    await waitEvent(ws, 'open');
    return client;
  }

  send(bytes: Buffer): void {
    this.ws.send(bytes);
  }

  async next(cmd: mqttPacket.PacketCmd, ms = 5000): Promise<mqttPacket.Packet> {
    const found = this.packets.find((p) => p.cmd === cmd);
    if (found) return found;
    for (;;) {
      const [packet] = (await waitEvent(this.ws, 'mqtt-packet', ms)) as [mqttPacket.Packet];
      if (packet.cmd === cmd) return packet;
    }
  }
}

/** Attempts an upgrade and returns the HTTP status the server answered (101 when it upgraded). */
export function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url.replace(/^ws/, 'http'), {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        ...headers,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}
