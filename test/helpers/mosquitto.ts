import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startPeer } from './peer-process.js';

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
  const peer = await startPeer(MOSQUITTO, ['-c', configFile], port, dir);
  return {
    port,
    url: `${options.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    wsPort,
    pid: peer.pid,
    output: peer.output,
    stop: () => peer.stop('SIGTERM'),
    kill: () => peer.stop('SIGKILL'),
  };
}
