import net from 'node:net';
import { waitFor } from './wait.js';

/** One connection a RecordingBackend accepted, and every byte it has read so far. */
export interface Recorded {
  readonly socket: net.Socket;
  bytes: Buffer;
}

/**
 * A plain TCP server standing in for the backend broker, for tests that byte-check what the
 * gateway sends first (PROXY headers, the CONNECT as forwarded). It answers nothing.
 */
export class RecordingBackend {
  readonly connections: Recorded[] = [];

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(): Promise<RecordingBackend> {
    const connections: Recorded[] = [];
    const server = net.createServer((socket) => {
      const recorded: Recorded = { socket, bytes: Buffer.alloc(0) };
      connections.push(recorded);
      socket.on('data', (chunk: Buffer) => (recorded.bytes = Buffer.concat([recorded.bytes, chunk])));
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const backend = new RecordingBackend(server, (server.address() as net.AddressInfo).port);
    (backend as { connections: Recorded[] }).connections = connections;
    return backend;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** The `index`-th connection (from 0), once it has at least `bytes` bytes. */
  received(index: number, bytes: number, ms = 5000): Promise<Recorded> {
    return waitFor(() => {
      const c = this.connections[index];
      return c !== undefined && c.bytes.length >= bytes ? c : undefined;
    }, `backend connection #${index} with ${bytes} bytes`, ms);
  }

  async close(): Promise<void> {
    for (const { socket } of this.connections) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
