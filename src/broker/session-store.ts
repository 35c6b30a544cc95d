import { SESSION_NEVER_EXPIRES, type Session } from './session.js';
import { LongTimer } from './timers.js';

/** Sessions by client id, in memory, and the timers that end those whose clients went away. */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly expiries = new Map<Session, LongTimer>();

  /**
   * @param limit most sessions held (0: no limit); past it `admits` refuses new client ids.
   * @param onExpired a session's expiry interval ran out; the owner ends it (and its will).
   */
  constructor(
    private readonly limit: number,
    private readonly onExpired: (session: Session) => void,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  get(clientId: string): Session | undefined {
    return this.sessions.get(clientId);
  }

  /** A session for `clientId` is held already (to resume or take over), or there is room for one more. */
  admits(clientId: string): boolean {
    return this.limit === 0 || this.sessions.size < this.limit || this.sessions.has(clientId);
  }

  set(session: Session): void {
    this.sessions.set(session.clientId, session);
  }

  delete(session: Session): void {
    this.cancelExpiry(session);
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
  }

  /** The client went away: the session ends after its expiry interval [MQTT-3.1.2-23]. */
  scheduleExpiry(session: Session): void {
    if (session.expiryInterval === SESSION_NEVER_EXPIRES) return;
    let timer = this.expiries.get(session);
    if (timer === undefined) {
      timer = new LongTimer(() => {
        this.expiries.delete(session);
        this.onExpired(session);
      });
      this.expiries.set(session, timer);
    }
    timer.start(session.expiryInterval * 1000);
  }

  cancelExpiry(session: Session): void {
    this.expiries.get(session)?.stop();
    this.expiries.delete(session);
  }

  values(): IterableIterator<Session> {
    return this.sessions.values();
  }

  /** Stops every timer (server shutdown). */
  clear(): void {
    for (const timer of this.expiries.values()) timer.stop();
    this.expiries.clear();
    this.sessions.clear();
  }
}
