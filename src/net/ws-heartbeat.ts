/** A WebSocket client the heartbeat can ping. */
export interface Pingable {
  /** Pings the client, or closes it when the last ping went unanswered. */
  heartbeat(): void;
}

/**
 * Server-side WebSocket pings every `intervalMs`: the traffic keeps idle-timeout proxies and NATs
 * from cutting a quiet connection, and a peer that has not answered one ping by the next is gone
 * (its TCP connection may never report it). Browsers answer pings by themselves (RFC 6455 §5.5.2).
 * One timer serves every client, so an idle connection costs no timer of its own.
 */
export class Heartbeat {
  private readonly clients = new Set<Pingable>();
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(intervalMs: number) {
    if (intervalMs <= 0) return;
    this.timer = setInterval(() => {
      for (const client of this.clients) client.heartbeat();
    }, intervalMs).unref();
  }

  watch(client: Pingable): void {
    if (this.timer) this.clients.add(client);
  }

  /** Stops pinging a client (any client may be passed: one never watched is ignored). */
  forget(client: object): void {
    this.clients.delete(client as Pingable);
  }

  close(): void {
    clearInterval(this.timer);
    this.clients.clear();
  }
}
