import { LongTimer } from './timers.js';

/**
 * Closes a client that sent nothing for one and a half times its Keep Alive [MQTT-3.1.2-24].
 * Packets only record the time; the single timer checks it when due, so there is no timer work
 * per packet.
 */
export class KeepAlive {
  private lastSeen = Date.now();
  private readonly limitMs: number;
  private readonly timer: LongTimer;

  constructor(
    seconds: number,
    /** true: the client may be alive but unread (we paused it); check again later. */
    private readonly paused: () => boolean,
    private readonly onExpired: () => void,
  ) {
    this.limitMs = seconds * 1500;
    this.timer = new LongTimer(() => this.check());
    if (seconds > 0) this.timer.start(this.limitMs);
  }

  touch(): void {
    this.lastSeen = Date.now();
  }

  stop(): void {
    this.timer.stop();
  }

  private check(): void {
    const idle = Date.now() - this.lastSeen;
    if (idle >= this.limitMs && !this.paused()) this.onExpired();
    else this.timer.start(Math.max(this.limitMs - idle, 1000));
  }
}
