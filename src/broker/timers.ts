/** Node timers hold at most 2^31-1 ms (about 24.8 days); MQTT intervals go up to 2^32-1 seconds. */
const MAX_TIMER_MS = 2_147_483_647;

/** An unref()'d timer for any delay, re-armed in steps when longer than a Node timer allows. */
export class LongTimer {
  private timer: NodeJS.Timeout | undefined;
  private deadline = 0;

  constructor(private readonly onFire: () => void) {}

  start(delayMs: number): void {
    this.stop();
    this.deadline = Date.now() + delayMs;
    this.arm();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  get active(): boolean {
    return this.timer !== undefined;
  }

  private arm(): void {
    const left = this.deadline - Date.now();
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        if (this.deadline - Date.now() > 0) this.arm();
        else this.onFire();
      },
      Math.max(0, Math.min(left, MAX_TIMER_MS)),
    ).unref();
  }
}
