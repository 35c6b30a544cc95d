import { spawn } from 'node:child_process';
import net from 'node:net';
import { PacketLog, type ProtocolVersion } from './raw-mqtt.js';
import { waitEvent, waitFor, within } from './wait.js';

/** One connection the fake backend accepted: the packets it read, and when its peer ended it. */
export class BackendConnection {
  readonly log: PacketLog;
  /** Settles on the socket's 'end' (the gateway finished sending), with the packet counts at that moment. */
  readonly ended: Promise<{ packets: number }>;
  /** Settles on the socket's 'finish': everything written, and the end, went to the kernel. */
  readonly finished: Promise<void>;
  readonly closed: Promise<void>;
  bytesReceived = 0;

  constructor(
    readonly socket: net.Socket,
    protocolVersion: ProtocolVersion,
  ) {
    this.log = new PacketLog(protocolVersion);
    socket.on('data', (chunk: Buffer) => {
      this.bytesReceived += chunk.length;
      this.log.push(chunk);
    });
    socket.on('error', () => {
      // The gateway may drop the connection; 'close' follows and the test looks at what arrived.
    });
    this.ended = new Promise((resolve) => socket.once('end', () => resolve({ packets: this.log.packets.length })));
    this.finished = new Promise((resolve) => socket.once('finish', () => resolve()));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }
}

/**
 * A TCP server that stands in for a broker when a test must control exactly what the backend
 * sends and when it reads. It does nothing by itself: `onConnection` scripts each connection.
 */
export class FakeBackend {
  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    /** Every connection accepted, in order. */
    readonly connections: readonly BackendConnection[],
  ) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  static async start(
    onConnection: (connection: BackendConnection) => void = () => {},
    protocolVersion: ProtocolVersion = 4,
  ): Promise<FakeBackend> {
    const connections: BackendConnection[] = [];
    const server = net.createServer((socket) => {
      const connection = new BackendConnection(socket, protocolVersion);
      connections.push(connection);
      onConnection(connection);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new FakeBackend(server, (server.address() as net.AddressInfo).port, connections);
  }

  /** The connection accepted `index`-th (from 0), once it has arrived. */
  connection(index: number, ms = 5000): Promise<BackendConnection> {
    return waitFor(() => this.connections[index], `backend connection #${index}`, ms);
  }

  async close(): Promise<void> {
    for (const { socket } of this.connections) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A loopback port where connection attempts hang unanswered, as a backend behind a dropped route
 * would. A child process listens with a backlog of 1 and blocks its event loop, so it never
 * accepts; the test fills the accept queue, and Linux then drops further SYNs to that listener
 * (the client stays in SYN-SENT until its own timeout).
 */
export async function startBlackHole(): Promise<{ port: number; close(): Promise<void> }> {
  const script =
    "const s=require('net').createServer();" +
    "s.listen({port:0,host:'127.0.0.1',backlog:1},()=>{" +
    "require('fs').writeSync(1,s.address().port+'\\n');" +
    'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0)})';
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const fillers: net.Socket[] = [];
  const close = async (): Promise<void> => {
    for (const socket of fillers) socket.destroy();
    child.kill('SIGKILL');
    await exited;
  };
  try {
    const [line] = await waitEvent<[Buffer]>(child.stdout, 'data', 10_000);
    const port = Number(line.toString().trim());
    // Fill the accept queue: connect until an attempt is left unanswered (bounded: a backlog of 1 takes two).
    for (let i = 0; ; i++) {
      if (i === 8) throw new Error(`the accept queue of port ${port} did not fill after ${i} connections`);
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => {});
      fillers.push(socket);
      const connected = await within(waitEvent(socket, 'connect', 500), 1000, 'filler').then(
        () => true,
        () => false,
      );
      if (!connected) {
        socket.destroy();
        break;
      }
    }
    return { port, close };
  } catch (err) {
    await close();
    throw err;
  }
}
