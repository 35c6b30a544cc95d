import type { CloseReasonName } from '../errors.js';
import { MqttFramer } from '../mqtt/framer.js';
import { FORWARD, type PacketInspector } from './admission.js';

/** The largest packet MQTT can describe [MQTT-2.2.3]: the upstream's stream is tracked, never limited. */
const ANY_PACKET_SIZE = 268_435_455;
/** Answers waiting for a packet boundary; a client that piles up more is closed. */
const MAX_HELD_ANSWERS = 1000;

/**
 * Applies a PacketInspector on a connection: packets it refuses are not forwarded, and the
 * gateway answers in the broker's place (SUBACK, PUBACK/PUBREC failures). Those answers go into
 * the same byte stream as the upstream's, so they wait for the upstream's CONNACK, which must come
 * first [MQTT-3.2.0-1], and for a boundary between its packets: the upstream's bytes arrive in
 * chunks that need not end where a packet does.
 */
export class PacketGate {
  private held: Buffer[] = [];
  private connackSent = false;
  private readonly upstream = new MqttFramer(ANY_PACKET_SIZE, () => (this.connackSent = true));

  constructor(
    private readonly inspector: PacketInspector,
    private readonly send: (bytes: Buffer) => void,
    private readonly close: (reason: CloseReasonName, detail: string) => void,
  ) {}

  /** True: forward the packet. False: it was answered, dropped, or closed the connection. */
  pass(packet: Buffer): boolean {
    let verdict;
    try {
      verdict = this.inspector.inspect(packet);
    } catch (err) {
      this.close('malformedPacket', (err as Error).message);
      return false;
    }
    if (verdict.action === 'forward') return true;
    if (verdict.action === 'close') this.close(verdict.reason, verdict.detail);
    else if (verdict.reply !== null) this.answer(verdict.reply);
    return false;
  }

  /** May the gateway put a packet of its own into the client's stream now? */
  get canSpeak(): boolean {
    return this.connackSent && this.upstream.idle;
  }

  /** The upstream sent the client these bytes. */
  sent(bytes: Buffer): void {
    try {
      this.upstream.push(bytes);
    } catch {
      return; // not MQTT framing: nothing can be placed safely, so nothing more is
    }
    if (this.held.length === 0 || !this.canSpeak) return;
    const held = this.held;
    this.held = [];
    for (const reply of held) this.send(reply);
  }

  private answer(reply: Buffer): void {
    if (this.canSpeak) return this.send(reply);
    if (this.held.length >= MAX_HELD_ANSWERS) return this.close('quotaExceeded', 'too many refused packets waiting for an answer');
    this.held.push(reply);
  }
}

/** The longest delay setTimeout takes (2^31-1 ms, about 24.8 days); longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Calls `fn` at the time `at` (ms since the epoch), however far ahead; returns a cancel function. */
export function callAt(time: number, fn: () => void): () => void {
  let timer: NodeJS.Timeout;
  const arm = (): void => {
    const delay = time - Date.now();
    if (delay <= 0) {
      fn();
      return;
    }
    timer = setTimeout(arm, Math.min(delay, MAX_TIMER_MS)).unref();
  };
  arm();
  return () => clearTimeout(timer);
}

/** For credentials that only expire: every packet passes, but the stream is tracked for the DISCONNECT. */
export const passEverything: PacketInspector = { inspect: () => FORWARD };
