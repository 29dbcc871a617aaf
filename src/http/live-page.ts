import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The live page at `/`: a static HTML page, its script and its stylesheet, served from
 * `live-page/` next to this file. No build step: the browser runs the files as they are. It
 * talks to the API like any other client (GraphQL over HTTP, the subscription over SSE) with the
 * token the user signs in with, so the server needs nothing for it beyond these three files.
 */

interface Asset {
  file: string;
  type: string;
  /** The HTML is never cached; the script and stylesheet are revalidated by ETag. */
  cacheControl: string;
}

const ASSETS = new Map<string, Asset>([
  ['/', { file: 'index.html', type: 'text/html; charset=utf-8', cacheControl: 'no-store' }],
  ['/live-page/app.js', { file: 'app.js', type: 'text/javascript; charset=utf-8', cacheControl: 'no-cache' }],
  ['/live-page/style.css', { file: 'style.css', type: 'text/css; charset=utf-8', cacheControl: 'no-cache' }],
]);

/**
 * Only this origin's own script and stylesheet run; no inline script or style, no eval, no plugins,
 * no framing, no forms posted anywhere (the page sends everything with fetch), and Trusted Types
 * turn any accidental `innerHTML = string` into an error instead of markup.
 */
export const LIVE_PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': LIVE_PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const loaded = new Map<string, Promise<{ body: Buffer; etag: string }>>();

function load(file: string): Promise<{ body: Buffer; etag: string }> {
  let pending = loaded.get(file);
  if (!pending) {
    pending = readFile(new URL(`./live-page/${file}`, import.meta.url)).then((body) => ({
      body,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    }));
    // A failed read is retried on the next request rather than remembered.
    pending.catch(() => loaded.delete(file));
    loaded.set(file, pending);
  }
  return pending;
}

/** Whether `pathname` is the page or one of its files. */
export function isLivePagePath(pathname: string): boolean {
  return ASSETS.has(pathname);
}

/** Answers a request for the page or one of its files (`isLivePagePath` said yes). */
export async function serveLivePage(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
  const asset = ASSETS.get(pathname);
  if (!asset) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS }).end('not found\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS }).end('method not allowed\n');
    return;
  }
  let content: { body: Buffer; etag: string };
  try {
    content = await load(asset.file);
  } catch {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS }).end('internal error\n');
    return;
  }
  const cacheable = asset.cacheControl !== 'no-store';
  const headers: Record<string, string | number> = {
    'content-type': asset.type,
    'cache-control': asset.cacheControl,
    ...(cacheable ? { etag: content.etag } : {}),
    ...SECURITY_HEADERS,
  };
  if (cacheable && req.headers['if-none-match'] === content.etag) {
    res.writeHead(304, headers).end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': content.body.length });
  res.end(req.method === 'HEAD' ? undefined : content.body);
}
