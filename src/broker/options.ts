import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';

export interface BrokerOptions {
  log: Logger;
  /** Largest packet accepted (enforced by the framer) and announced to MQTT 5 clients. */
  maxPacketSize: number;
  /** Messages kept per session beyond those in flight. */
  maxQueuedMessages: number;
  /** QoS 1/2 messages in flight to one client (and QoS 2 from it, for MQTT 5). */
  maxInflightMessages: number;
  /** Mosquitto-style password file; null for anonymous access. */
  authFile: string | null;
  /** Mosquitto-style ACL file; null to allow every topic. */
  aclFile: string | null;
  /**
   * Longest Keep Alive an MQTT 5 client may have, in seconds (Mosquitto's `max_keepalive`); 0: no
   * cap. A client asking for none (0) or more gets this instead, told by Server Keep Alive
   * [MQTT-3.2.2-21]. A 3.1.1 client cannot be told, so it keeps its own (as with Mosquitto 2.0.11).
   * Default 0.
   */
  maxKeepAliveSeconds?: number;
  /**
   * Most retained messages kept (one per topic); 0: no limit. Past it a new retained topic is not
   * stored, while replacing or deleting one still works. Default 100 000.
   */
  maxRetainedMessages?: number;
  /**
   * Most sessions kept, connected or not; 0: no limit. Past it a CONNECT that would start a new
   * session (not resume or take over one with its client id) is refused: CONNACK 3 (Server
   * unavailable) before MQTT 5, 0x97 (Quota exceeded) in 5.0. Default 100 000.
   */
  maxSessions?: number;
  /**
   * Seconds a session of an MQTT 3.1/3.1.1 client with Clean Session 0 outlives its connection
   * (Mosquitto's `persistent_client_expiration`); 0: for ever, as the protocol has no expiry to
   * ask for. MQTT 5 clients say their own Session Expiry Interval. Default 0.
   */
  persistentSessionExpirySeconds?: number;
}

/** The options with every default applied, checked once when the broker starts. */
export type ResolvedBrokerOptions = Readonly<Required<BrokerOptions>>;

export const BROKER_DEFAULTS = {
  maxKeepAliveSeconds: 0,
  maxRetainedMessages: 100_000,
  maxSessions: 100_000,
  persistentSessionExpirySeconds: 0,
} as const satisfies Partial<BrokerOptions>;

/** The largest Keep Alive MQTT can express: a Two Byte Integer [MQTT-3.1.2.10]. */
const KEEP_ALIVE_MAX = 0xffff;
/** The longest expiry short of never (0xFFFFFFFF: SESSION_NEVER_EXPIRES, MQTT 5 section 3.1.2.11.2). */
const SESSION_EXPIRY_MAX = 0xfffffffe;

/** Applies the defaults and names every option out of range in one ConfigError; the caller's object is not touched. */
export function resolveBrokerOptions(options: BrokerOptions): ResolvedBrokerOptions {
  const resolved = {
    ...options,
    maxKeepAliveSeconds: options.maxKeepAliveSeconds ?? BROKER_DEFAULTS.maxKeepAliveSeconds,
    maxRetainedMessages: options.maxRetainedMessages ?? BROKER_DEFAULTS.maxRetainedMessages,
    maxSessions: options.maxSessions ?? BROKER_DEFAULTS.maxSessions,
    persistentSessionExpirySeconds: options.persistentSessionExpirySeconds ?? BROKER_DEFAULTS.persistentSessionExpirySeconds,
  };
  const problems: string[] = [];
  const check = (name: keyof BrokerOptions, value: number, max: number): void => {
    if (!Number.isInteger(value) || value < 0 || value > max) problems.push(`${name}: expected an integer from 0 to ${max}, got ${value}`);
  };
  check('maxKeepAliveSeconds', resolved.maxKeepAliveSeconds, KEEP_ALIVE_MAX);
  check('maxRetainedMessages', resolved.maxRetainedMessages, Number.MAX_SAFE_INTEGER);
  check('maxSessions', resolved.maxSessions, Number.MAX_SAFE_INTEGER);
  check('persistentSessionExpirySeconds', resolved.persistentSessionExpirySeconds, SESSION_EXPIRY_MAX);
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(resolved);
}
