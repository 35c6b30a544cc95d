import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../src/config.js';
import type { Upstream } from '../../src/upstream/upstream.js';
import { createLogger } from '../../src/log.js';
import { Gateway } from '../../src/gateway.js';

export interface TestGateway {
  readonly gateway: Gateway;
  readonly wsUrl: string;
  readonly wssUrl: string;
  readonly mqttUrl: string;
  readonly mqttsUrl: string;
  readonly httpUrl: string;
  readonly httpsUrl: string;
  readonly ports: Gateway['ports'];
  /** The server certificate (PEM): trust it as a CA in clients. */
  readonly ca: Buffer;
  readonly certsDir: string;
  /** Every log line so far, parsed. */
  readonly logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** One temp certs dir for the whole test process, so the development certificate is generated once. */
let sharedCertsDir: string | undefined;

/**
 * Starts a gateway in this process on 127.0.0.1 with every listener on port 0. `env` overrides
 * the defaults (as the environment would); without BROKER_URL the embedded broker serves, unless
 * `makeUpstream` gives another upstream for the configuration.
 */
export async function startGateway(env: Record<string, string> = {}, makeUpstream?: (config: Config) => Upstream): Promise<TestGateway> {
  sharedCertsDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-certs-'));
  const certsDir = env.CERTS_DIR ?? sharedCertsDir;
  const config = loadConfig({
    HOST: '127.0.0.1',
    HTTP_PORT: '0',
    HTTPS_PORT: '0',
    MQTT_PORT: '0',
    MQTTS_PORT: '0',
    CERTS_DIR: certsDir,
    LOG_LEVEL: 'debug',
    CONNECT_TIMEOUT_MS: '2000',
    SHUTDOWN_TIMEOUT_MS: '3000',
    ...env,
  });
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const gateway = await Gateway.start(config, createLogger(config.logLevel, sink), makeUpstream && { upstream: makeUpstream(config) });
  const { ports } = gateway;
  const certFile = config.tlsCert ?? path.join(certsDir, 'server.crt');
  const wsPath = config.wsPaths[0];
  return {
    gateway,
    ports,
    wsUrl: `ws://127.0.0.1:${ports.http}${wsPath}`,
    wssUrl: `wss://localhost:${ports.https}${wsPath}`,
    mqttUrl: `mqtt://127.0.0.1:${ports.mqtt}`,
    mqttsUrl: `mqtts://localhost:${ports.mqtts}`,
    httpUrl: `http://127.0.0.1:${ports.http}`,
    httpsUrl: `https://localhost:${ports.https}`,
    ca: fs.existsSync(certFile) ? fs.readFileSync(certFile) : Buffer.alloc(0),
    certsDir,
    logs,
    close: () => gateway.close(),
  };
}
