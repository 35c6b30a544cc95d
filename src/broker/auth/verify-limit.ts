/**
 * Password checks run scrypt (16 MiB each) on libuv's thread pool, which DNS lookups and file I/O
 * share: without a bound, a flood of CONNECTs with any user name would queue unbounded memory and
 * starve the pool. A few run at once, a bounded number wait in order, and the rest are refused.
 */

/** libuv's default thread pool size: more at once would only wait inside libuv instead of here. */
export const VERIFY_CONCURRENCY = 4;
/** Checks that may wait for a slot; one more is refused (CONNACK Server busy / Server unavailable). */
export const VERIFY_QUEUE = 64;

/** What `run` resolves with when the wait queue is full and the check was not run. */
export const VERIFY_BUSY: unique symbol = Symbol('verify busy');
export type VerifyBusy = typeof VERIFY_BUSY;

export interface VerifyLimitOptions {
  readonly concurrency?: number;
  readonly queue?: number;
  /** The first refusal since the queue last emptied: once per burst, for one log line. */
  readonly onSaturated?: (limits: { concurrency: number; queue: number }) => void;
}

export class VerifyLimit {
  readonly concurrency: number;
  readonly queueSize: number;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  /** A refusal was reported and the queue has not emptied since. */
  private saturated = false;
  private readonly onSaturated: VerifyLimitOptions['onSaturated'];

  constructor(options: VerifyLimitOptions = {}) {
    this.concurrency = options.concurrency ?? VERIFY_CONCURRENCY;
    this.queueSize = options.queue ?? VERIFY_QUEUE;
    this.onSaturated = options.onSaturated;
  }

  /** Checks running now. */
  get active(): number {
    return this.running;
  }

  /** Checks waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Runs `check` once a slot is free, in arrival order; resolves VERIFY_BUSY at once, without
   * running it, when every slot is taken and the queue is full.
   */
  async run<T>(check: () => Promise<T>): Promise<T | VerifyBusy> {
    if (this.running < this.concurrency) {
      this.running++;
    } else if (this.waiting.length < this.queueSize) {
      // release() hands its slot over: `running` already counts this check when it resumes.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      if (!this.saturated) {
        this.saturated = true;
        this.onSaturated?.({ concurrency: this.concurrency, queue: this.queueSize });
      }
      return VERIFY_BUSY;
    }
    try {
      return await check();
    } finally {
      this.release();
    }
  }

  private release(): void {
    const next = this.waiting.shift();
    if (this.waiting.length === 0) this.saturated = false;
    if (next !== undefined) next();
    else this.running--;
  }
}
