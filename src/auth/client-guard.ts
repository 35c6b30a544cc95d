import type { CloseReasonName } from '../errors.js';
import type { PacketInspector } from './admission.js';

/**
 * Applies a PacketInspector on a connection: packets it refuses are not forwarded, and the
 * answers the gateway gives in the broker's place (SUBACK, PUBACK/PUBREC failures) wait until the
 * broker's CONNACK has reached the client, which must come first [MQTT-3.2.0-1].
 */
export class PacketGate {
  /** Answers held until the CONNACK has passed; null once it has. */
  private held: Buffer[] | null = [];

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
    else if (verdict.reply !== null) {
      if (this.held) this.held.push(verdict.reply);
      else this.send(verdict.reply);
    }
    return false;
  }

  /** The upstream has sent the client its first bytes: the CONNACK. */
  sent(): void {
    if (this.held === null) return;
    const held = this.held;
    this.held = null;
    for (const reply of held) this.send(reply);
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
