/** Free loopback ports, and waiting for a server to accept on one. */
import net from 'node:net';

export const LOOPBACK = '127.0.0.1';

/** Asks the kernel for a free port by binding port 0, then releases it for the server we start next. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('no port from the kernel'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

function tryConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOOPBACK, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Resolves once `port` accepts TCP connections. `exited()` lets a dead process fail fast
 * instead of waiting out the deadline.
 */
export async function waitForPort(
  port: number,
  deadlineMs: number,
  exited: () => string | null,
): Promise<void> {
  const giveUpAt = Date.now() + deadlineMs;
  const retryDelayMs = 50;
  for (;;) {
    if (await tryConnect(port)) return;
    const why = exited();
    if (why !== null) throw new Error(`exited before listening on ${port}: ${why}`);
    if (Date.now() > giveUpAt) throw new Error(`nothing listening on ${LOOPBACK}:${port} after ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
  }
}
