import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './wait.js';

export const HAPROXY = '/usr/sbin/haproxy';

export interface Haproxy {
  /** Every log line so far (tcplog format, one per connection as soon as it is established). */
  readonly lines: () => string[];
  stop(): Promise<void>;
}

/**
 * A real HAProxy in TCP mode, as the load balancer in front of the gateway or as a PROXY-reading
 * peer behind it. `sections` are the frontend/backend blocks; logs go to stdout, read by the test.
 */
export async function startHaproxy(sections: string, listenPort: number): Promise<Haproxy> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'haproxy-'));
  const config = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(
    config,
    [
      'global',
      '  log stdout format raw local0 info',
      'defaults',
      '  mode tcp',
      '  log global',
      '  option tcplog',
      '  option logasap',
      '  timeout connect 5s',
      '  timeout client 60s',
      '  timeout server 60s',
      sections,
      '',
    ].join('\n'),
  );
  const child = spawn(HAPROXY, ['-f', config, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  await waitFor(
    async () => {
      if (gone) throw new Error(`haproxy exited at start:\n${output}`);
      return canConnect(listenPort);
    },
    `haproxy on port ${listenPort}`,
    10_000,
  );
  return {
    lines: () => output.split('\n').filter((line) => line !== ''),
    stop: async () => {
      if (!gone) child.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function canConnect(port: number): Promise<boolean> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
