import type { Logger } from 'pino';
import type { IConnectPacket } from '../mqtt/codec.js';
import type { CloseReasonName } from '../errors.js';
import type { ConnectionAddresses } from '../net/client-address.js';

/** What an upstream knows of the client: who it is, and how to talk back to it. */
export interface ClientLink {
  /** Connection id, unique within this process; also the `conn` field of log lines. */
  readonly conn: string;
  /** The client's address as `ip:port`. */
  readonly remote: string;
  /** The client's and the gateway's addresses, as believed (a trusted proxy may have named the client). */
  readonly addresses?: ConnectionAddresses;
  /** Which listener accepted it. */
  readonly transport: Transport;
  /** The decoded CONNECT packet, and its bytes as received. */
  readonly connect: IConnectPacket;
  readonly connectBytes: Buffer;
  /** Subject of a verified TLS client certificate, when one was presented. */
  readonly peerCertificateSubject?: string;
  readonly log: Logger;
  /** Sends bytes to the client. false means its buffer is full: stop until onDrain fires. */
  send(bytes: Buffer): boolean;
  /** Called once each time the client's buffer empties after send returned false. */
  onDrain(listener: () => void): void;
  /** Ends the client connection after what was sent is flushed, giving this reason. */
  close(reason: CloseReasonName): void;
}

export type Transport = 'ws' | 'wss' | 'tcp' | 'tls';

/** One client's connection to an upstream: where the client's packets go after CONNECT. */
export interface UpstreamSession {
  /** One whole MQTT packet from the client. false: stop sending until the onDrain listener fires. */
  write(packet: Buffer): boolean;
  onDrain(listener: () => void): void;
  /** Groups the writes of one chunk read from the client, so they reach the upstream together. */
  cork?(): void;
  uncork?(): void;
  /** The client finished sending: flush what was written, then close (clean). */
  end(): void;
  /** Abandon at once (the client connection failed). */
  destroy(): void;
}

/**
 * Where MQTT traffic goes after the edge: a TCP/TLS backend broker, or the embedded broker.
 * `open` is called once per client, after its CONNECT passed the edge checks; the CONNECT itself
 * is delivered by the upstream (forwarded or handled), not through `write`.
 * It rejects with an UpstreamError when the upstream cannot take the client.
 */
export interface Upstream {
  open(client: ClientLink): Promise<UpstreamSession>;
  /** For /readyz: can a new client be served right now? */
  ready(): Promise<boolean>;
  /** Stop: close every session cleanly. */
  close(): Promise<void>;
}
