import type { WebSocket } from 'ws';

/**
 * Server-side WebSocket pings every `intervalMs`: the traffic keeps idle-timeout proxies and NATs
 * from cutting a quiet connection, and a peer that has not answered one ping by the next is gone
 * (its TCP connection may never report it). Browsers answer pings by themselves (RFC 6455 §5.5.2).
 */
export function keepPinging(ws: WebSocket, intervalMs: number, onSilent: () => void): void {
  if (intervalMs <= 0) return;
  let answered = true;
  ws.on('pong', () => (answered = true));
  const timer = setInterval(() => {
    if (!answered) {
      clearInterval(timer);
      onSilent();
      ws.terminate();
      return;
    }
    answered = false;
    ws.ping();
  }, intervalMs).unref();
  ws.once('close', () => clearInterval(timer));
}
