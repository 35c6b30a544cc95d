import type { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { waitEvent } from './wait.js';

/**
 * MQTT.js clients for tests. MqttClient's typed emitter is not assignable to node's EventEmitter
 * type, so its events are awaited through `clientEvent`.
 */

export function clientEvent<T extends unknown[] = unknown[]>(client: MqttClient, event: string, ms = 5000): Promise<T> {
  return waitEvent<T>(client as unknown as EventEmitter, event, ms);
}

/** Connects with no automatic reconnection unless asked; resolves on CONNACK. */
export async function connectClient(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  try {
    await clientEvent(client, 'connect', 10_000);
  } catch (err) {
    client.end(true);
    throw err;
  }
  return client;
}

/** Waits for the next message on `client`. */
export function nextMessage(client: MqttClient, ms = 5000): Promise<[string, Buffer, mqtt.IPublishPacket]> {
  return clientEvent<[string, Buffer, mqtt.IPublishPacket]>(client, 'message', ms);
}
