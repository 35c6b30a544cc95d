import mqttPacket, { type Packet, type IConnectPacket } from 'mqtt-packet';
import { GatewayError } from '../errors.js';

export type { Packet, IConnectPacket };

/**
 * Decodes whole packets (as cut by MqttFramer) with mqtt-packet. One decoder per connection:
 * it learns the protocol version from CONNECT and reads the packets after it accordingly.
 */
export class PacketDecoder {
  private readonly parser = mqttPacket.parser();
  private decoded: Packet | undefined;
  private failure: Error | undefined;

  constructor() {
    this.parser.on('packet', (packet: Packet) => {
      this.decoded = packet;
    });
    this.parser.on('error', (err: Error) => {
      this.failure ??= err;
    });
  }

  /** Decodes exactly one packet; throws GatewayError('ERR_MALFORMED_PACKET') when it is not valid MQTT. */
  decode(packet: Buffer): Packet {
    this.decoded = undefined;
    this.failure = undefined;
    this.parser.parse(packet);
    // Assigned by the parser's listeners during parse(); TypeScript cannot see that.
    const decoded = this.decoded as Packet | undefined;
    const failure = this.failure as Error | undefined;
    if (failure || !decoded) {
      // The parser keeps partial state after an error; a malformed packet ends the connection anyway.
      throw new GatewayError('ERR_MALFORMED_PACKET', failure?.message ?? 'incomplete packet', { cause: failure });
    }
    return decoded;
  }
}

/** Protocol level as people say it: 3 is MQTT 3.1, 4 is 3.1.1, 5 is 5.0. */
export function protocolName(version: number | undefined): string {
  return version === 5 ? '5.0' : version === 3 ? '3.1' : '3.1.1';
}

/** DISCONNECT with a reason code, for MQTT 5 clients the gateway ends [MQTT-3.14.2.1]. */
export function disconnectPacket(reasonCode: number): Buffer {
  return mqttPacket.generate({ cmd: 'disconnect', reasonCode }, { protocolVersion: 5 });
}
