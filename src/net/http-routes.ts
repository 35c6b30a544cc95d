import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { MQTT_SUBPROTOCOLS, refuseUpgrade } from './upgrade.js';
import type { WebPage } from './web-page.js';

export interface HttpRoutes {
  /** Answers a plain HTTP request. */
  request(req: IncomingMessage, res: ServerResponse): void;
  /** A WebSocket upgrade on a path that is not MQTT's: the web application's, or 404. */
  otherUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Answers an upgrade on plain HTTP with a redirect to HTTPS when configured to; false: carry on. */
  redirectUpgrade(req: IncomingMessage, socket: Duplex): boolean;
  /** The METRICS_PORT listener: /metrics and nothing else. */
  metricsRequest(req: IncomingMessage, res: ServerResponse): void;
  close(): void;
}

export interface RedirectOptions {
  /** The HTTPS port to send browsers to (the bound one, known once listening). */
  readonly httpsPort: () => number | null;
  /** Redirect the MQTT WebSocket paths too (plain ws:// clients are sent to wss://). */
  readonly mqtt: boolean;
}

export interface RouteOptions {
  readonly httpUpstream: URL | null;
  /** For /readyz: can a new client reach the upstream now? */
  readonly ready: () => Promise<boolean>;
  readonly log: Logger;
  /** Serves /metrics from these; on the main listeners only when `metricsHere`. */
  readonly metrics?: Metrics;
  readonly metricsHere?: boolean;
  /** The MQTT WebSocket paths: a plain GET there is answered 426 with what a client needs to know. */
  readonly wsPaths?: readonly string[];
  readonly allowedOrigins?: readonly string[] | null;
  /** The browser page at `/` (null: off). */
  readonly webPage?: WebPage | null;
  /** Plain-HTTP requests are redirected to HTTPS (null: off). */
  readonly redirect?: RedirectOptions | null;
  /** Does this request come from a trusted proxy, whose forwarding headers may reach HTTP_UPSTREAM? */
  readonly fromTrustedProxy?: (req: IncomingMessage) => boolean;
}

/** Headers a client could use to pose as another address or scheme before the web application. */
const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port'];

/** Never redirected: probes and scrapers talk plain HTTP on purpose. */
const OPERATIONS_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Health, readiness and metrics for orchestrators; the browser page; a redirect to HTTPS when
 * asked; everything else goes to HTTP_UPSTREAM when it is set.
 */
export function createHttpRoutes(options: RouteOptions): HttpRoutes {
  const { httpUpstream, ready, log, metrics, webPage, redirect } = options;
  const wsPaths = options.wsPaths ?? [];
  const proxy = httpUpstream && httpProxy.createProxyServer({ target: httpUpstream.href, xfwd: true, ws: true });
  // http-proxy appends to what the client sent; only a trusted proxy's forwarding headers are kept.
  const forwardable = (req: IncomingMessage): IncomingMessage => {
    if (!options.fromTrustedProxy?.(req)) for (const name of FORWARDING_HEADERS) delete req.headers[name];
    return req;
  };
  proxy?.on('error', (err, _req, res) => {
    log.warn({ reason: err.message }, 'HTTP_UPSTREAM request failed');
    if ('writeHead' in res) {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('bad gateway\n');
    } else {
      res.destroy();
    }
  });

  const serveMetrics = (res: ServerResponse): void => {
    if (!metrics) return json(res, 404, { status: 'not found' });
    metrics.scrape().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
      (err: unknown) => {
        log.warn({ reason: (err as Error).message }, 'metrics scrape failed');
        json(res, 500, { status: 'metrics unavailable' });
      },
    );
  };

  /** Where a plain-HTTP request should go instead, or null to serve it here. */
  const redirectTarget = (req: IncomingMessage, path: string): string | null => {
    if (!redirect || isEncrypted(req)) return null;
    if (OPERATIONS_PATHS.has(path) || (wsPaths.includes(path) && !redirect.mqtt)) return null;
    const port = redirect.httpsPort();
    const host = hostOnly(req.headers.host);
    if (port === null || host === null) return null;
    return `https://${host}${port === 443 ? '' : `:${port}`}${req.url ?? '/'}`;
  };

  return {
    request(req, res) {
      const path = pathOf(req);
      const location = redirectTarget(req, path);
      if (location !== null) {
        // 301 lets browsers remember it; 308 keeps the method and body of anything but GET and HEAD.
        const status = req.method === 'GET' || req.method === 'HEAD' ? 301 : 308;
        res.writeHead(status, { location, 'content-type': 'text/plain', 'content-length': location.length + 1 });
        res.end(`${location}\n`);
        return;
      }
      if (path === '/metrics' && options.metricsHere) return serveMetrics(res);
      if (path === '/healthz') return json(res, 200, { status: 'ok' });
      if (path === '/readyz') {
        ready().then(
          (ok) => json(res, ok ? 200 : 503, { status: ok ? 'ready' : 'backend unreachable' }),
          () => json(res, 503, { status: 'backend unreachable' }),
        );
        return;
      }
      if (wsPaths.includes(path)) return describeEndpoint(req, res, options.allowedOrigins ?? null);
      if (webPage?.serve(req, res, path)) return;
      if (proxy) return proxy.web(forwardable(req), res);
      json(res, 404, { status: 'not found' });
    },
    otherUpgrade(req, socket, head) {
      if (proxy) return proxy.ws(forwardable(req), socket, head);
      metrics?.handshakeRefused('path');
      refuseUpgrade(socket, { status: 404, reason: 'no WebSocket endpoint at this path' });
    },
    redirectUpgrade(req, socket) {
      const path = pathOf(req);
      if (!wsPaths.includes(path)) return false;
      const location = redirectTarget(req, path)?.replace(/^https:/, 'wss:');
      if (location === undefined) return false;
      const body = `use ${location}\n`;
      socket.once('finish', () => socket.destroy());
      socket.end(
        `HTTP/1.1 301 Moved Permanently\r\nLocation: ${location}\r\nConnection: close\r\n` +
          `Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      return true;
    },
    metricsRequest(req, res) {
      if (pathOf(req) === '/metrics') return serveMetrics(res);
      json(res, 404, { status: 'not found' });
    },
    close() {
      proxy?.close();
    },
  };
}

/**
 * A plain GET on an MQTT path cannot become MQTT; 426 says so (RFC 9110 §15.5.22) and tells the
 * browser page what it needs to explain a failed handshake: the subprotocols, and whether the
 * origin given in `?origin=` (or the request's Origin) would be allowed.
 */
function describeEndpoint(req: IncomingMessage, res: ServerResponse, allowedOrigins: readonly string[] | null): void {
  const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
  const origin = (query.get('origin') ?? req.headers.origin)?.toLowerCase();
  const body = {
    status: 'MQTT over WebSocket endpoint: connect with a WebSocket client',
    subprotocols: MQTT_SUBPROTOCOLS,
    originAllowed: origin === undefined || allowedOrigins === null || allowedOrigins.includes(origin),
  };
  json(res, 426, body, { upgrade: 'websocket', 'access-control-allow-origin': '*' });
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0] ?? '/';
}

function isEncrypted(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean }).encrypted === true;
}

/** The Host header without its port; null when there is none or it is not a plain host name or IP literal. */
function hostOnly(host: string | undefined): string | null {
  if (host === undefined) return null;
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::\d+)?$/i.exec(host.trim());
  return match?.[1] ?? null;
}

function json(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
