import { once, type EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import mqtt, { type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient } from 'mqtt';
import { Broker, type BrokerOptions } from '../../../src/broker/broker.js';
import { brokerOptions, brokerUpstream } from '../../../src/broker/embedded.js';
import type { ClientContext } from '../../../src/broker/context.js';
import type { Config } from '../../../src/config.js';
import { createLogger } from '../../../src/log.js';
import type { Upstream } from '../../../src/upstream/upstream.js';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';

/**
 * Shared by the embedded-broker tests: a gateway with the embedded broker (no BROKER_URL), MQTT.js
 * clients that never reconnect, and waits that always have a deadline.
 */

export type Version = 4 | 5;
export const VERSIONS: readonly Version[] = [4, 5];
export const vname = (v: Version): string => (v === 5 ? 'MQTT 5.0' : 'MQTT 3.1.1');

export async function startBroker(env: Record<string, string> = {}, makeUpstream?: (config: Config) => Upstream): Promise<TestGateway> {
  return startGateway({ LOG_LEVEL: 'warn', ...env }, makeUpstream);
}

/** Broker options a test sets directly, over those the configuration gives. */
export type ExtraBrokerOptions = Partial<Omit<BrokerOptions, 'log'>>;

export interface BrokerGateway extends TestGateway {
  /** The embedded broker serving this gateway's clients. */
  readonly broker: Broker;
  /** The broker's log lines (debug and up), parsed. */
  readonly brokerLogs: Record<string, unknown>[];
}

/**
 * A gateway whose embedded broker the test can look into: built from the configuration as the
 * gateway builds it (plus `extra`), with its own debug log.
 */
export async function startBrokerWith(extra: ExtraBrokerOptions, env: Record<string, string> = {}): Promise<BrokerGateway> {
  const brokerLogs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line) brokerLogs.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  let broker: Broker | undefined;
  const gw = await startBroker(env, (config) => {
    broker = new Broker({ ...brokerOptions(config, createLogger('debug', sink)), ...extra });
    return brokerUpstream(broker);
  });
  return { ...gw, broker: broker as Broker, brokerLogs };
}

/** The broker-side connection of a client, by client id, once it is connected. */
export function connectionOf(broker: Broker, clientId: string): ClientContext | undefined {
  for (const conn of broker.connections) if (conn.clientId === clientId) return conn;
  return undefined;
}

/** Waits for one event of an MQTT.js client (or any emitter), failing after `ms`. */
export async function next<T extends unknown[] = unknown[]>(emitter: MqttClient | EventEmitter, event: string, ms = 5000): Promise<T> {
  try {
    return (await once(emitter as EventEmitter, event, { signal: AbortSignal.timeout(ms) })) as T;
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw new Error(`timed out after ${ms} ms waiting for '${event}'`);
    throw err;
  }
}

const opened = new Set<MqttClient>();

/** Connects an MQTT.js client and waits for CONNACK; `closeAll` ends it. */
export async function connect(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return (await connectWithInbox(url, options))[0];
}

/** Connects with an Inbox attached before CONNACK, so messages sent right after it are seen. */
export async function connectWithInbox(url: string, options: IClientOptions = {}): Promise<[MqttClient, Inbox]> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, rejectUnauthorized: false, ...options });
  opened.add(client);
  const inbox = new Inbox(client);
  await Promise.race([
    next(client, 'connect'),
    next<[Error]>(client, 'error').then(([err]) => {
      throw err;
    }),
  ]);
  return [client, inbox];
}

/** Connects an MQTT.js client; resolves with it and the CONNACK it got. */
export async function connectWithConnack(url: string, options: IClientOptions = {}): Promise<[MqttClient, IConnackPacket]> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, rejectUnauthorized: false, ...options });
  opened.add(client);
  const [connack] = await Promise.race([
    next<[IConnackPacket]>(client, 'connect'),
    next<[Error]>(client, 'error').then(([err]) => {
      throw err;
    }),
  ]);
  return [client, connack];
}

/** Connects, expecting a refusal; resolves with the error MQTT.js reports. */
export async function connectRefused(url: string, options: IClientOptions = {}): Promise<Error & { code?: number }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, rejectUnauthorized: false, ...options });
  opened.add(client);
  const [err] = await next<[Error & { code?: number }]>(client, 'error');
  return err;
}

export async function closeAll(): Promise<void> {
  const clients = [...opened];
  opened.clear();
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
}

export interface Received {
  topic: string;
  payload: string;
  packet: IPublishPacket;
}

/** Records every message a client receives; `take(n)` waits until n have arrived. */
export class Inbox {
  readonly messages: Received[] = [];
  private waiters: (() => void)[] = [];

  constructor(client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload: payload.toString(), packet });
      for (const w of this.waiters) w();
    });
  }

  async take(n: number, ms = 5000): Promise<Received[]> {
    const deadline = Date.now() + ms;
    while (this.messages.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out: ${this.messages.length} of ${n} messages after ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.waiters = [];
    }
    return this.messages.slice(0, n);
  }

  /** Proves absence: a marker message published after the others arrives with nothing before it. */
  async nothingBefore(marker: string, ms = 5000): Promise<Received[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const at = this.messages.findIndex((m) => m.topic === marker);
      if (at >= 0) return this.messages.slice(0, at);
      if (Date.now() > deadline) throw new Error(`timed out waiting for marker ${marker}`);
      await this.take(this.messages.length + 1, deadline - Date.now());
    }
  }
}

/** The gateway's raw MQTT (TCP) port. */
export function tcpPort(gw: TestGateway): number {
  const port = gw.ports.mqtt;
  if (port === null) throw new Error('the MQTT listener is off');
  return port;
}
