import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { ClientLink, Upstream, UpstreamSession } from '../upstream/upstream.js';
import { Broker } from './broker.js';

/**
 * The in-process broker as the gateway's upstream, used when BROKER_URL is unset: every listener
 * (ws, wss, MQTT over TCP and TLS) feeds it directly, with no loopback hop.
 */
export function embeddedBroker(config: Config, log: Logger): Upstream {
  const broker = new Broker({
    log,
    maxPacketSize: config.maxPacketSize,
    maxQueuedMessages: config.maxQueuedMessages,
    maxInflightMessages: config.maxInflightMessages,
    maxKeepAliveSeconds: config.maxKeepAliveSeconds,
    maxRetainedMessages: config.maxRetainedMessages,
    authFile: config.authFile,
    aclFile: config.aclFile,
  });
  return {
    open: (client: ClientLink): Promise<UpstreamSession> => broker.open(client),
    ready: async () => broker.ready(),
    close: async () => broker.close(),
  };
}
