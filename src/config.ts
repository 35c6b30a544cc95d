import { ConfigError } from './errors.js';

export type ClientAuth = 'none' | 'optional' | 'require';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface BrokerAddress {
  readonly tls: boolean;
  readonly host: string;
  readonly port: number;
}

/** Everything the gateway reads from its environment, checked once at start. */
export interface Config {
  readonly host: string;
  /** null disables the listener. */
  readonly httpPort: number | null;
  readonly httpsPort: number | null;
  readonly mqttPort: number | null;
  readonly mqttsPort: number | null;
  readonly wsPaths: readonly string[];
  readonly requireSubprotocol: boolean;
  /** null: the embedded broker. */
  readonly broker: BrokerAddress | null;
  readonly brokerCa: string | null;
  readonly brokerConnectTimeoutMs: number;
  readonly tlsCert: string | null;
  readonly tlsKey: string | null;
  readonly tlsCa: string | null;
  readonly tlsClientAuth: ClientAuth;
  readonly tlsMinVersion: 'TLSv1.2' | 'TLSv1.3';
  readonly certsDir: string;
  /** null: any origin. */
  readonly allowedOrigins: readonly string[] | null;
  readonly maxConnections: number;
  readonly maxPacketSize: number;
  readonly maxHeaderBytes: number;
  readonly connectTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly httpUpstream: URL | null;
  readonly logLevel: LogLevel;
  readonly authFile: string | null;
  readonly aclFile: string | null;
  readonly maxQueuedMessages: number;
  readonly maxInflightMessages: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads every variable, collecting all problems so one start reports them all.
 * Each reader returns the parsed value or records a problem naming the variable and what it expects.
 */
export function loadConfig(env: Env): Config {
  const problems: string[] = [];
  const raw = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const bad = (name: string, expected: string): undefined => {
    problems.push(`${name}=${JSON.stringify(env[name])}: expected ${expected}`);
    return undefined;
  };

  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const value = raw(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) {
      bad(name, `a whole number from ${min} to ${max}`);
      return fallback;
    }
    return n;
  };
  /** A port; set but empty (`MQTT_PORT=`) disables the listener. */
  const port = (name: string, fallback: number): number | null => {
    if (env[name] !== undefined && env[name]?.trim() === '') return null;
    return integer(name, fallback, 0, 65535);
  };
  const oneOf = <T extends string>(name: string, choices: readonly T[], fallback: T): T => {
    const value = raw(name);
    if (value === undefined) return fallback;
    if ((choices as readonly string[]).includes(value)) return value as T;
    bad(name, `one of ${choices.join(', ')}`);
    return fallback;
  };
  const list = (name: string): string[] | undefined =>
    raw(name)
      ?.split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  const bool = (name: string, fallback: boolean): boolean => {
    const value = raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(value)) return true;
    if (['0', 'false', 'no', 'off'].includes(value)) return false;
    bad(name, 'true or false');
    return fallback;
  };

  const wsPaths = list('WS_PATH') ?? ['/mqtt'];
  for (const path of wsPaths) if (!path.startsWith('/')) bad('WS_PATH', 'paths starting with "/" (comma-separated)');

  const origins = list('ALLOWED_ORIGINS');
  const allowedOrigins = origins === undefined || origins.includes('*') ? null : origins.map((o) => o.toLowerCase());

  const config: Config = {
    host: raw('HOST') ?? '0.0.0.0',
    httpPort: port('HTTP_PORT', 80),
    httpsPort: port('HTTPS_PORT', 443),
    mqttPort: port('MQTT_PORT', 1883),
    mqttsPort: port('MQTTS_PORT', 8883),
    wsPaths,
    requireSubprotocol: bool('REQUIRE_SUBPROTOCOL', false),
    broker: brokerAddress(raw('BROKER_URL'), bad),
    brokerCa: raw('BROKER_CA') ?? null,
    brokerConnectTimeoutMs: integer('BROKER_CONNECT_TIMEOUT_MS', 5000, 1, 600_000),
    tlsCert: raw('TLS_CERT') ?? null,
    tlsKey: raw('TLS_KEY') ?? null,
    tlsCa: raw('TLS_CA') ?? null,
    tlsClientAuth: oneOf('TLS_CLIENT_AUTH', ['none', 'optional', 'require'] as const, 'none'),
    tlsMinVersion: oneOf('TLS_MIN_VERSION', ['TLSv1.2', 'TLSv1.3'] as const, 'TLSv1.2'),
    certsDir: raw('CERTS_DIR') ?? 'certs',
    allowedOrigins,
    maxConnections: integer('MAX_CONNECTIONS', 10_000, 1, 10_000_000),
    maxPacketSize: integer('MAX_PACKET_SIZE', 2 * 1024 * 1024, 16, 268_435_455),
    maxHeaderBytes: integer('MAX_HEADER_BYTES', 16 * 1024, 1024, 1024 * 1024),
    connectTimeoutMs: integer('CONNECT_TIMEOUT_MS', 10_000, 1, 600_000),
    shutdownTimeoutMs: integer('SHUTDOWN_TIMEOUT_MS', 10_000, 1, 600_000),
    httpUpstream: httpUpstream(raw('HTTP_UPSTREAM'), bad),
    logLevel: oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    authFile: raw('AUTH_FILE') ?? null,
    aclFile: raw('ACL_FILE') ?? null,
    maxQueuedMessages: integer('MAX_QUEUED_MESSAGES', 1000, 0, 10_000_000),
    maxInflightMessages: integer('MAX_INFLIGHT_MESSAGES', 20, 1, 65535),
  };

  if (config.tlsCert === null !== (config.tlsKey === null)) {
    problems.push('TLS_CERT and TLS_KEY: expected both or neither');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

function brokerAddress(value: string | undefined, bad: (name: string, expected: string) => undefined): BrokerAddress | null {
  if (value === undefined) return null;
  const expected = 'mqtt://host:port or mqtts://host:port (unset for the embedded broker)';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return bad('BROKER_URL', expected) ?? null;
  }
  const tls = url.protocol === 'mqtts:';
  if ((!tls && url.protocol !== 'mqtt:') || url.hostname === '') return bad('BROKER_URL', expected) ?? null;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { tls, host, port: url.port === '' ? (tls ? 8883 : 1883) : Number(url.port) };
}

function httpUpstream(value: string | undefined, bad: (name: string, expected: string) => undefined): URL | null {
  if (value === undefined) return null;
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url;
  } catch {
    // reported below
  }
  return bad('HTTP_UPSTREAM', 'an http:// or https:// URL') ?? null;
}
