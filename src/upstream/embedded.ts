import { Broker, type BrokerOptions } from '../broker/broker.js';
import type { ClientLink, Upstream, UpstreamSession } from './upstream.js';

export type { BrokerOptions };

/**
 * The in-process broker as an Upstream: used when no BROKER_URL is set, so every listener
 * (ws, wss, MQTT over TCP and TLS) feeds it directly.
 */
export function createEmbeddedBroker(options: BrokerOptions): Upstream {
  const broker = new Broker(options);
  return {
    open: (client: ClientLink): Promise<UpstreamSession> => broker.open(client),
    ready: async () => broker.ready(),
    close: async () => broker.close(),
  };
}
