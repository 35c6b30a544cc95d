import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { waitFor } from './wait.js';

/** A real program the tests talk to (Mosquitto, HAProxy), started in its own temp dir. */
export interface PeerProcess {
  readonly pid: number;
  /** Everything it printed so far, stdout and stderr. */
  readonly output: () => string;
  /** Sends `signal` (SIGKILL after 5 s), waits for the exit, removes its temp dir. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Runs `program` and resolves once 127.0.0.1:`port` accepts connections; rejects with its output
 * if it exits first, or after 10 s.
 */
export async function startPeer(program: string, args: string[], port: number, dir: string): Promise<PeerProcess> {
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let gone = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      gone = true;
      resolve();
    }),
  );
  const name = program.split('/').pop();
  await waitFor(
    async () => {
      if (gone) throw new Error(`${name} exited at start:\n${output}`);
      return canConnect(port);
    },
    `${name} on port ${port}`,
    10_000,
  );
  return {
    pid: child.pid as number,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (!gone) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
