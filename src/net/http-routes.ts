import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import type { Logger } from '../log.js';
import { refuseUpgrade } from './upgrade.js';

export interface HttpRoutes {
  /** Answers a plain HTTP request. */
  request(req: IncomingMessage, res: ServerResponse): void;
  /** A WebSocket upgrade on a path that is not MQTT's: the web application's, or 404. */
  otherUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
}

export interface RouteOptions {
  readonly httpUpstream: URL | null;
  /** For /readyz: can a new client reach the upstream now? */
  readonly ready: () => Promise<boolean>;
  readonly log: Logger;
}

/** Health and readiness for orchestrators; everything else goes to HTTP_UPSTREAM when it is set. */
export function createHttpRoutes({ httpUpstream, ready, log }: RouteOptions): HttpRoutes {
  const proxy = httpUpstream && httpProxy.createProxyServer({ target: httpUpstream.href, xfwd: true, ws: true });
  proxy?.on('error', (err, _req, res) => {
    log.warn({ reason: err.message }, 'HTTP_UPSTREAM request failed');
    if ('writeHead' in res) {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('bad gateway\n');
    } else {
      res.destroy();
    }
  });

  return {
    request(req, res) {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/healthz') return json(res, 200, { status: 'ok' });
      if (path === '/readyz') {
        ready().then(
          (ok) => json(res, ok ? 200 : 503, { status: ok ? 'ready' : 'backend unreachable' }),
          () => json(res, 503, { status: 'backend unreachable' }),
        );
        return;
      }
      if (proxy) return proxy.web(req, res);
      json(res, 404, { status: 'not found' });
    },
    otherUpgrade(req, socket, head) {
      if (proxy) proxy.ws(req, socket, head);
      else refuseUpgrade(socket, { status: 404, reason: 'no WebSocket endpoint at this path' });
    },
    close() {
      proxy?.close();
    },
  };
}

function json(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
