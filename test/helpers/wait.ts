import { once, type EventEmitter } from 'node:events';

/** Anything with Node-style events: an EventEmitter, a socket, or MQTT.js's typed client. */
type Emitter = Pick<EventEmitter, 'on' | 'removeListener'> | { on(event: string, listener: (...args: never[]) => void): unknown };

/** Waits for one event, failing after `ms` with a message that says what was awaited. */
export async function waitEvent<T extends unknown[] = unknown[]>(emitter: Emitter, event: string, ms = 5000): Promise<T> {
  try {
    return (await once(emitter as EventEmitter, event, { signal: AbortSignal.timeout(ms) })) as T;
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw new Error(`timed out after ${ms} ms waiting for '${event}'`);
    throw err;
  }
}

/** Polls `check` on every turn of the event loop until it returns a truthy value, or fails after `ms`. */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, ms = 5000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Rejects if `promise` has not settled within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Lets real time pass, for behaviour that is defined by elapsed time itself (a message expiry, a
 * keep-alive period). Never a stand-in for an event: for those, use waitEvent or waitFor.
 */
export function timePasses(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
