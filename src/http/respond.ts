import type { IncomingMessage, ServerResponse } from 'node:http';
import { asDomainError, HTTP_STATUS, type DomainError } from '../resolvers/errors.js';
import type { Logger } from '../logger.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(payload);
}

/**
 * The client's address. Behind `trustedProxies` reverse proxies, each of which appends the address
 * it received from to X-Forwarded-For, the client is that many entries from the right; with none,
 * it is the socket's peer (and X-Forwarded-For, which anyone can send, is ignored).
 */
export function clientAddress(req: IncomingMessage, trustedProxies = 0): string {
  const chain = [req.socket.remoteAddress ?? 'unknown'];
  if (trustedProxies > 0) {
    const forwarded = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(forwarded) ? forwarded.join(',') : (forwarded ?? '')).split(',').map((a) => a.trim()).filter(Boolean);
    chain.unshift(...hops);
  }
  const address = chain[Math.max(0, chain.length - 1 - trustedProxies)]!;
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/**
 * Answers a domain error with its HTTP status and `{"error", ...details}`; anything else is an
 * internal error whose details stay in the log.
 */
export function sendError(res: ServerResponse, error: unknown, log: Logger): void {
  const domain: DomainError | undefined = asDomainError(error);
  if (!domain) {
    log.error({ err: error }, 'request failed');
    sendJson(res, 500, { error: 'internal error' });
    return;
  }
  const status = HTTP_STATUS[domain.code];
  const headers: Record<string, string> = {};
  if (typeof domain.details.retryAfter === 'number') headers['retry-after'] = String(domain.details.retryAfter);
  sendJson(res, status, { error: domain.message, ...domain.details }, headers);
}
