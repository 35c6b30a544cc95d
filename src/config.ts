import fs from 'node:fs';
import { ConfigError } from './errors.js';
import { checkCidrs } from './net/trusted-proxies.js';

export type ClientAuth = 'none' | 'optional' | 'require';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type AuthMode = 'none' | 'jwt' | 'mtls' | 'jwt-or-mtls';
export type ProxyProtocolVersion = 'off' | 'v1' | 'v2';

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
  /** Longest MQTT 5 keep alive, in seconds (Server Keep Alive); 0: no cap. */
  readonly maxKeepAliveSeconds: number;
  /** 0: no limit. */
  readonly maxRetainedMessages: number;
  /** Sessions the embedded broker holds, connected or not; 0: no limit. */
  readonly maxSessions: number;
  /** Seconds an MQTT 3.1.1 Clean Session 0 session outlives its connection; 0: for ever. */
  readonly persistentSessionExpirySeconds: number;

  // Identity, limits and scale-out
  /** Every BROKER_URL entry, in order (`broker` is the first); empty: the embedded broker. */
  readonly brokers: readonly BrokerAddress[];
  readonly brokerHealthIntervalMs: number;
  /** PROXY header sent to the backend before the client's CONNECT. */
  readonly brokerProxyProtocol: ProxyProtocolVersion;
  /** CIDR ranges whose X-Forwarded-For / Forwarded / PROXY headers are believed. */
  readonly trustedProxies: readonly string[];
  /** Read PROXY v1/v2 headers on the raw MQTT listeners (believed from trusted proxies only). */
  readonly proxyProtocol: boolean;
  /** 0: no limit. */
  readonly maxConnectionsPerIp: number;
  /** New connections per second per address; 0: no limit. */
  readonly connectionRatePerIp: number;
  readonly connectionBurstPerIp: number;
  /** Packet size limit until CONNECT is accepted (never above maxPacketSize). */
  readonly maxPreAuthPacketSize: number;
  readonly handshakeTimeoutMs: number;
  /** 0: no server pings. */
  readonly wsPingIntervalMs: number;
  /** Idle timeout of the proxies in front; a keep alive at or above it is warned about. 0: no warning. */
  readonly proxyIdleTimeoutS: number;
  readonly authMode: AuthMode;
  readonly jwtSecret: string | null;
  readonly jwtPublicKey: string | null;
  readonly jwtJwksFile: string | null;
  readonly jwtAudience: readonly string[] | null;
  readonly jwtIssuer: string | null;
  readonly jwtCookie: string;
  readonly jwtUsernameClaim: string;
  readonly jwtPubClaim: string;
  readonly jwtSubClaim: string;
  readonly connectRewrite: boolean;

  // Operations
  /** null: /metrics is served on the HTTP and HTTPS listeners; a port: only there. */
  readonly metricsPort: number | null;
  /** Watch the certificate files and reload them when they change. */
  readonly tlsReload: boolean;
  readonly tlsReloadDebounceMs: number;
  readonly httpRedirectHttps: boolean;
  /** Redirect the MQTT WebSocket paths too (plain ws:// clients are sent to wss://). */
  readonly httpRedirectMqtt: boolean;
  /** permessage-deflate on WebSocket connections. */
  readonly wsCompression: boolean;
  /** The browser page at `/`. */
  readonly webPage: boolean;
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

  const brokers = brokerList(raw('BROKER_URL'), bad);
  const maxPacketSize = integer('MAX_PACKET_SIZE', 2 * 1024 * 1024, 16, 268_435_455);
  const config: Config = {
    host: raw('HOST') ?? '0.0.0.0',
    httpPort: port('HTTP_PORT', 80),
    httpsPort: port('HTTPS_PORT', 443),
    mqttPort: port('MQTT_PORT', 1883),
    mqttsPort: port('MQTTS_PORT', 8883),
    wsPaths,
    requireSubprotocol: bool('REQUIRE_SUBPROTOCOL', false),
    broker: brokers[0] ?? null,
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
    maxPacketSize,
    maxHeaderBytes: integer('MAX_HEADER_BYTES', 16 * 1024, 1024, 1024 * 1024),
    connectTimeoutMs: integer('CONNECT_TIMEOUT_MS', 10_000, 1, 600_000),
    shutdownTimeoutMs: integer('SHUTDOWN_TIMEOUT_MS', 10_000, 1, 600_000),
    httpUpstream: httpUpstream(raw('HTTP_UPSTREAM'), bad),
    logLevel: oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    authFile: raw('AUTH_FILE') ?? null,
    aclFile: raw('ACL_FILE') ?? null,
    maxQueuedMessages: integer('MAX_QUEUED_MESSAGES', 1000, 0, 10_000_000),
    maxInflightMessages: integer('MAX_INFLIGHT_MESSAGES', 20, 1, 65535),
    maxKeepAliveSeconds: integer('MAX_KEEPALIVE', 0, 0, 65535),
    maxRetainedMessages: integer('MAX_RETAINED_MESSAGES', 100_000, 0, 100_000_000),
    maxSessions: integer('MAX_SESSIONS', 100_000, 0, 100_000_000),
    // Up to 0xFFFFFFFE: 0xFFFFFFFF would mean "never", which is 0 here.
    persistentSessionExpirySeconds: integer('PERSISTENT_SESSION_EXPIRY_S', 0, 0, 4_294_967_294),

    // Identity, limits and scale-out
    brokers,
    brokerHealthIntervalMs: integer('BROKER_HEALTH_INTERVAL_MS', 5000, 50, 600_000),
    brokerProxyProtocol: oneOf('BROKER_PROXY_PROTOCOL', ['off', 'v1', 'v2'] as const, 'off'),
    trustedProxies: list('TRUSTED_PROXIES') ?? [],
    proxyProtocol: bool('PROXY_PROTOCOL', false),
    maxConnectionsPerIp: integer('MAX_CONNECTIONS_PER_IP', 0, 0, 10_000_000),
    connectionRatePerIp: integer('CONNECTION_RATE_PER_IP', 0, 0, 1_000_000),
    connectionBurstPerIp: integer('CONNECTION_BURST_PER_IP', 10, 1, 1_000_000),
    maxPreAuthPacketSize: Math.min(maxPacketSize, integer('MAX_PRE_AUTH_PACKET_SIZE', 64 * 1024, 16, 268_435_455)),
    handshakeTimeoutMs: integer('HANDSHAKE_TIMEOUT_MS', 10_000, 1, 600_000),
    wsPingIntervalMs: integer('WS_PING_INTERVAL_MS', 30_000, 0, 3_600_000),
    proxyIdleTimeoutS: integer('PROXY_IDLE_TIMEOUT_S', 60, 0, 86_400),
    authMode: oneOf('AUTH_MODE', ['none', 'jwt', 'mtls', 'jwt-or-mtls'] as const, 'none'),
    jwtSecret: raw('JWT_SECRET') ?? null,
    jwtPublicKey: raw('JWT_PUBLIC_KEY') ?? null,
    jwtJwksFile: raw('JWT_JWKS_FILE') ?? null,
    jwtAudience: list('JWT_AUDIENCE') ?? null,
    jwtIssuer: raw('JWT_ISSUER') ?? null,
    jwtCookie: raw('JWT_COOKIE') ?? 'access_token',
    jwtUsernameClaim: raw('JWT_USERNAME_CLAIM') ?? 'sub',
    jwtPubClaim: raw('JWT_PUB_CLAIM') ?? 'mqtt_pub',
    jwtSubClaim: raw('JWT_SUB_CLAIM') ?? 'mqtt_sub',
    connectRewrite: bool('CONNECT_REWRITE', false),

    // Operations
    metricsPort: raw('METRICS_PORT') === undefined ? null : integer('METRICS_PORT', 0, 0, 65535),
    tlsReload: bool('TLS_RELOAD', true),
    tlsReloadDebounceMs: integer('TLS_RELOAD_DEBOUNCE_MS', 500, 0, 600_000),
    httpRedirectHttps: bool('HTTP_REDIRECT_HTTPS', false),
    httpRedirectMqtt: bool('HTTP_REDIRECT_MQTT', false),
    wsCompression: bool('WS_COMPRESSION', false),
    // The page would hide the web application's own `/` behind HTTP_UPSTREAM.
    webPage: bool('WEB_PAGE', raw('HTTP_UPSTREAM') === undefined),
  };

  // Files named by a variable are checked here, so a wrong path stops the start with the variable's name.
  const files = { BROKER_CA: config.brokerCa, AUTH_FILE: config.authFile, ACL_FILE: config.aclFile, JWT_PUBLIC_KEY: config.jwtPublicKey, JWT_JWKS_FILE: config.jwtJwksFile };
  for (const [name, file] of Object.entries(files)) {
    if (file === null) continue;
    try {
      fs.accessSync(file, fs.constants.R_OK);
    } catch (err) {
      bad(name, `a readable file (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
  }
  if (config.tlsCert === null !== (config.tlsKey === null)) {
    problems.push('TLS_CERT and TLS_KEY: expected both or neither');
  }
  // Identity, limits and scale-out
  const cidrProblem = checkCidrs(config.trustedProxies);
  if (cidrProblem !== null) bad('TRUSTED_PROXIES', `IP addresses or CIDR ranges, comma-separated (${cidrProblem})`);
  const jwtKeyed = config.jwtSecret !== null || config.jwtPublicKey !== null || config.jwtJwksFile !== null;
  if (config.authMode.includes('jwt') && !jwtKeyed) {
    problems.push(`AUTH_MODE=${config.authMode}: expected JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_FILE to verify tokens with`);
  }
  // Operations
  if ((config.httpRedirectHttps || config.httpRedirectMqtt) && (config.httpPort === null || config.httpsPort === null)) {
    problems.push('HTTP_REDIRECT_HTTPS / HTTP_REDIRECT_MQTT: expected both HTTP_PORT and HTTPS_PORT to be enabled');
  }
  if (config.httpRedirectMqtt && !config.httpRedirectHttps) {
    problems.push('HTTP_REDIRECT_MQTT=true: expected HTTP_REDIRECT_HTTPS=true as well');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

/** BROKER_URL: one broker, or several (comma-separated) for a pool. */
function brokerList(value: string | undefined, bad: (name: string, expected: string) => undefined): BrokerAddress[] {
  const items = value?.split(',').map((item) => item.trim()).filter((item) => item !== '') ?? [];
  return items.map((item) => brokerAddress(item, bad)).filter((broker) => broker !== null);
}

function brokerAddress(value: string, bad: (name: string, expected: string) => undefined): BrokerAddress | null {
  const expected = 'mqtt://host:port or mqtts://host:port, comma-separated for a pool (unset for the embedded broker)';
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
