import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Logger } from '../log.js';

/** The page's files, by URL path: name in the web directory (or the MQTT.js bundle) and type. */
const FILES = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  '/mqtt.min.js': { file: null, type: 'text/javascript; charset=utf-8' },
} as const;

/**
 * The page talks only to its own origin over HTTP, and to any gateway over ws/wss (the URL is
 * editable). MQTT.js runs its keep-alive timers in a blob: worker, which background tabs do not throttle.
 */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; worker-src blob:; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self' ws: wss: http: https:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
} as const;

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
  gzipped?: Buffer;
}

/** The browser test page: index.html, app.js and style.css from src/web, and the MQTT.js browser bundle. */
export interface WebPage {
  /** Answers GET/HEAD for one of the page's paths; false: not a page path. */
  serve(req: IncomingMessage, res: ServerResponse, path: string): boolean;
}

/**
 * Finds the page's files: next to this module's directory (`src/web` under tsx, `dist/web`
 * when the build copied it), else `src/web` beside `dist/`. The MQTT.js bundle comes from the
 * installed `mqtt` package. Returns null (with one warning) when the page cannot be served.
 */
export function loadWebPage(log: Logger): WebPage | null {
  const dir = [new URL('../web/', import.meta.url), new URL('../../src/web/', import.meta.url)]
    .map((url) => fileURLToPath(url))
    .find((candidate) => existsSync(`${candidate}index.html`));
  if (dir === undefined) {
    log.warn({ reason: 'index.html not found next to the program' }, 'web page disabled');
    return null;
  }
  let bundle: string | null = null;
  try {
    // The package maps `./dist/*` to `./dist/*.js`, so the specifier has no extension.
    bundle = createRequire(import.meta.url).resolve('mqtt/dist/mqtt.min');
  } catch (err) {
    log.warn({ reason: (err as Error).message }, 'web page: the mqtt package is not installed; the page cannot connect');
  }
  const assets = new Map<string, Asset>();
  for (const [path, { file, type }] of Object.entries(FILES)) {
    const source = file === null ? bundle : `${dir}${file}`;
    if (source === null) continue;
    const body = readFileSync(source);
    assets.set(path, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
  }
  return {
    serve(req, res, path) {
      const asset = assets.get(path === '/index.html' ? '/' : path);
      if (asset === undefined) return false;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
        return true;
      }
      const headers: Record<string, string | number> = {
        ...PAGE_HEADERS,
        'content-type': asset.type,
        'cache-control': 'no-cache',
        etag: asset.etag,
        vary: 'accept-encoding',
      };
      if (req.headers['if-none-match'] === asset.etag) {
        res.writeHead(304, headers).end();
        return true;
      }
      let body = asset.body;
      if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '') && body.length > 1024) {
        asset.gzipped ??= gzipSync(body);
        body = asset.gzipped;
        headers['content-encoding'] = 'gzip';
      }
      headers['content-length'] = body.length;
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    },
  };
}
