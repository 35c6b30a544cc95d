import type { CloseReasonName } from '../errors.js';
import type { Logger } from '../log.js';
import type { IConnectPacket } from '../mqtt/codec.js';

/**
 * The edge's say over one client, decided when its CONNECT arrives: let it through (perhaps with
 * a rewritten CONNECT, topic checks and an expiry), or refuse it with a CONNACK.
 */
export type Admission =
  | {
      readonly accepted: true;
      /** The CONNECT to forward: the client's own, or rewritten by the gateway. */
      readonly connect: IConnectPacket;
      readonly connectBytes: Buffer;
      /** Looks at every later packet from the client; absent: packets pass untouched (zero-copy). */
      readonly inspector?: PacketInspector;
      /** When the client's credentials expire (ms since the epoch); the connection is closed then. */
      readonly expiresAt?: number;
    }
  | {
      readonly accepted: false;
      /** The CONNACK that refuses the client [MQTT-3.2.2]; the connection closes after it. */
      readonly connack: Buffer;
      readonly reason: CloseReasonName;
      readonly detail: string;
    };

/** Decides on a CONNECT. Synchronous when it can be, so the common path adds no delay. */
export type Admit = (connect: IConnectPacket, connectBytes: Buffer, log: Logger) => Admission | Promise<Admission>;

/** What becomes of one packet from an admitted client. */
export type Verdict =
  | { readonly action: 'forward' }
  /** Not forwarded; `reply` (if any) is sent to the client by the gateway. */
  | { readonly action: 'answer'; readonly reply: Buffer | null }
  | { readonly action: 'close'; readonly reason: CloseReasonName; readonly detail: string };

export interface PacketInspector {
  inspect(packet: Buffer): Verdict;
}

export const FORWARD: Verdict = { action: 'forward' };
