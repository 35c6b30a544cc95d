import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { ClientLink, Upstream, UpstreamSession } from '../upstream/upstream.js';
import { GatewayError } from '../errors.js';
import { Broker, type BrokerOptions } from './broker.js';

const FILE_VARIABLES: Readonly<Record<string, string>> = { ERR_AUTH_FILE: 'AUTH_FILE', ERR_ACL_FILE: 'ACL_FILE' };

/** A bad AUTH_FILE or ACL_FILE stops the start with a message that names the variable. */
function withVariableNamed<T>(make: () => T): T {
  try {
    return make();
  } catch (err) {
    const variable = err instanceof GatewayError ? FILE_VARIABLES[err.code] : undefined;
    if (variable === undefined) throw err;
    throw new GatewayError((err as GatewayError).code, `${variable}: ${(err as Error).message}`, { cause: err });
  }
}

/** The broker's options as the configuration gives them. */
export function brokerOptions(config: Config, log: Logger): BrokerOptions {
  return {
    log,
    maxPacketSize: config.maxPacketSize,
    maxQueuedMessages: config.maxQueuedMessages,
    maxInflightMessages: config.maxInflightMessages,
    maxKeepAliveSeconds: config.maxKeepAliveSeconds,
    maxRetainedMessages: config.maxRetainedMessages,
    maxSessions: config.maxSessions,
    persistentSessionExpirySeconds: config.persistentSessionExpirySeconds,
    authFile: config.authFile,
    aclFile: config.aclFile,
  };
}

/** A broker seen as an upstream: every client the gateway admits is handed to it. */
export function brokerUpstream(broker: Broker): Upstream {
  return {
    open: (client: ClientLink): Promise<UpstreamSession> => broker.open(client),
    ready: async () => broker.ready(),
    close: async () => broker.close(),
  };
}

/**
 * The in-process broker as the gateway's upstream, used when BROKER_URL is unset: every listener
 * (ws, wss, MQTT over TCP and TLS) feeds it directly, with no loopback hop.
 */
export function embeddedBroker(config: Config, log: Logger): Upstream {
  return brokerUpstream(withVariableNamed(() => new Broker(brokerOptions(config, log))));
}
