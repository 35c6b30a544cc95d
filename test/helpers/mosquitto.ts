import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './wait.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export interface MosquittoOptions {
  /** Extra lines for the configuration file (after the default TCP listener). */
  extraConfig?: string[];
  /** Serve TLS on the main listener with this certificate and key (PEM file paths). */
  tls?: { certFile: string; keyFile: string };
  /** Also open a websockets listener; its port is `wsPort`. */
  websockets?: boolean;
  /** Reuse this port (to bring a broker back on the same address). */
  port?: number;
}

export interface Mosquitto {
  readonly port: number;
  readonly url: string;
  readonly wsPort: number | null;
  readonly pid: number;
  readonly output: () => string;
  /** SIGTERM, then SIGKILL if it has not exited within 5 s. */
  stop(): Promise<void>;
  /** SIGKILL: the broker vanishes without closing its connections cleanly. */
  kill(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts a real Mosquitto on 127.0.0.1 with a config file written for it; resolves once it accepts connections. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mosquitto-'));
  const port = options.port ?? (await freePort());
  const wsPort = options.websockets ? await freePort() : null;
  const lines = [
    'per_listener_settings false',
    'allow_anonymous true',
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    `listener ${port} 127.0.0.1`,
    ...(options.tls ? [`certfile ${options.tls.certFile}`, `keyfile ${options.tls.keyFile}`] : []),
    ...(wsPort !== null ? [`listener ${wsPort} 127.0.0.1`, 'protocol websockets'] : []),
    ...(options.extraConfig ?? []),
  ];
  const configFile = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(configFile, `${lines.join('\n')}\n`);
  const child = spawn(MOSQUITTO, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  await waitFor(
    async () => {
      if (gone) throw new Error(`mosquitto exited at start:\n${output}`);
      return canConnect(port);
    },
    `mosquitto on port ${port}`,
    10_000,
  );
  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    if (gone) return fs.rmSync(dir, { recursive: true, force: true });
    signalProcess(child, signal);
    const timer = setTimeout(() => signalProcess(child, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return {
    port,
    url: `${options.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    wsPort,
    pid: child.pid as number,
    output: () => output,
    stop: () => stopWith('SIGTERM'),
    kill: () => stopWith('SIGKILL'),
  };
}

function signalProcess(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    child.kill(signal);
  } catch {
    // already gone
  }
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
