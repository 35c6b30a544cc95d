import { LongTimer } from './timers.js';

/**
 * How long the input of a paused client is read, once its keep alive is due, before it is judged
 * silent: what it sent while paused is already in our buffers, or one round trip away.
 */
export const PAUSED_READ_GRACE_MS = 1000;

/** What the keep alive needs of the connection it watches. */
export interface KeepAliveHost {
  /** We stopped reading the client (its buffer is full): what it sent may wait unread. */
  paused(): boolean;
  /** Read the client's input again for a while, even though it is still paused. */
  readAhead(): void;
  expired(): void;
}

/**
 * Closes a client that sent nothing for one and a half times its Keep Alive (3.1.1 [MQTT-3.1.2-24],
 * 5.0 [MQTT-3.1.2-22]).
 * Packets only record the time; the single timer checks it when due, so there is no timer work
 * per packet. A paused client is not spared: when it is due, its input is read for
 * PAUSED_READ_GRACE_MS, and if that brings no packet either it is closed.
 */
export class KeepAlive {
  private lastSeen = Date.now();
  private readonly limitMs: number;
  private readonly timer: LongTimer;
  /** Its input is being read ahead, because it was due while paused. */
  private readingAhead = false;

  constructor(
    seconds: number,
    private readonly host: KeepAliveHost,
  ) {
    this.limitMs = seconds * 1500;
    this.timer = new LongTimer(() => this.check());
    if (seconds > 0) this.timer.start(this.limitMs);
  }

  touch(): void {
    this.lastSeen = Date.now();
    this.readingAhead = false;
  }

  stop(): void {
    this.timer.stop();
  }

  private check(): void {
    const idle = Date.now() - this.lastSeen;
    if (idle < this.limitMs) {
      this.timer.start(Math.max(this.limitMs - idle, 1000));
    } else if (this.readingAhead || !this.host.paused()) {
      this.host.expired();
    } else {
      this.readingAhead = true;
      this.timer.start(PAUSED_READ_GRACE_MS);
      this.host.readAhead();
    }
  }
}
