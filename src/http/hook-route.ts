import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import type { DomainServices } from '../resolvers/index.js';
import { InvalidInputError, RateLimitedError } from '../resolvers/errors.js';
import type { HookCaller } from '../resolvers/hooks.js';
import type { Deployment } from '../resolvers/models.js';
import { isStreamEnded, type StreamItem } from '../resolvers/deployment-streams.js';
import { parseBooleanFlag, parseBranch, parseIdempotencyKey } from '../resolvers/validation.js';
import type { AbuseLimits } from './rate-limits.js';
import { sendError, sendJson } from './respond.js';

/** A body is read and ignored up to this size (a GitHub push event fits), refused above it. */
export const MAX_HOOK_BODY_BYTES = 1024 * 1024;
const UNAUTHORIZED = { error: 'unknown service, wrong token or revoked hook' };

export interface HookRouteProps {
  services: DomainServices;
  limits: AbuseLimits;
  publicUrl: string;
  log: Logger;
}

type HookPath =
  | { kind: 'trigger'; serviceId: string; token: string }
  | { kind: 'status'; serviceId: string; token: string; deploymentId: string };

/** Matches `/hooks/{serviceId}/{token}` and `/hooks/{serviceId}/{token}/deployments/{id}`. */
export function matchHookPath(pathname: string): HookPath | 'malformed' | null {
  if (!pathname.startsWith('/hooks/')) return null;
  const raw = pathname.slice('/hooks/'.length).split('/');
  let segments: string[];
  try {
    segments = raw.map((s) => decodeURIComponent(s));
  } catch {
    return 'malformed';
  }
  // Any two non-empty segments are a hook URL: an absurd service ID or token is refused with the
  // same 401 as every other wrong one (the request line itself is bounded by Node's header limit).
  if (segments.some((s) => s.length === 0)) return null;
  const [serviceId, token, deployments, deploymentId] = segments;
  if (segments.length === 2) return { kind: 'trigger', serviceId: serviceId!, token: token! };
  if (segments.length === 4 && deployments === 'deployments') {
    return { kind: 'status', serviceId: serviceId!, token: token!, deploymentId: deploymentId! };
  }
  return null;
}

/**
 * The REST side used by CI: `POST` a hook URL to queue a deployment (202 at once), `GET` its status
 * URL to poll. The token is checked before anything is written or built; every refusal is a 4xx
 * with a JSON body, an outage a 503 with Retry-After.
 */
export class HookRoute {
  constructor(private readonly props: HookRouteProps) {}

  async handle(req: IncomingMessage, res: ServerResponse, match: HookPath, url: URL): Promise<void> {
    try {
      if (match.kind === 'trigger') await this.trigger(req, res, match, url);
      else await this.status(req, res, match);
    } catch (error) {
      closeIfBodyPending(req, res);
      sendError(res, error, this.props.log);
    }
  }

  private async trigger(req: IncomingMessage, res: ServerResponse, match: HookPath, url: URL): Promise<void> {
    if (req.method !== 'POST') {
      closeIfBodyPending(req, res);
      return sendJson(res, 405, { error: 'use POST to trigger a deployment' }, { allow: 'POST' });
    }
    const declaredLength = Number(req.headers['content-length'] ?? 0);
    if (declaredLength > MAX_HOOK_BODY_BYTES) return this.tooLarge(res);

    const caller = await this.authenticate(req, res, match);
    if (!caller) return;

    const branch = singleParam(url, 'branch');
    const clearCache = singleParam(url, 'clear_cache');
    const keyHeader = req.headers['idempotency-key'];
    if (Array.isArray(keyHeader)) throw new InvalidInputError('Idempotency-Key', 'Idempotency-Key must be given once');
    const input = {
      branch: branch === null ? null : parseBranch(branch),
      clearCache: clearCache === null ? false : parseBooleanFlag(clearCache, 'clear_cache'),
      idempotencyKey: keyHeader === undefined ? null : parseIdempotencyKey(keyHeader),
      clientAddress: this.props.limits.addressOf(req),
    };

    const retryAfter = await this.props.limits.consumeHookCall(caller.hookId);
    if (retryAfter !== null) throw new RateLimitedError(retryAfter);

    if (!(await discardBody(req, MAX_HOOK_BODY_BYTES))) return this.tooLarge(res);

    const { deployment } = await this.props.services.deployments.createFromHook(caller, input);
    const body = this.describe(deployment, match.token);
    if (wantsEventStream(req)) return this.follow(res, caller, body);
    sendJson(res, 202, body, { location: body.statusUrl });
  }

  /**
   * Follow mode for CI: the same 202, as a server-sent event stream: `deployment` with the body
   * above, then one `status` event per transition, ending after the terminal one. A stream cut
   * short by a shutdown ends with an `error` event instead, so a client can tell it from an
   * outcome and follow again (the same POST with its Idempotency-Key, or the status URL).
   */
  private async follow(res: ServerResponse, caller: HookCaller, body: ReturnType<HookRoute['describe']>): Promise<void> {
    let events: AsyncIterableIterator<StreamItem>;
    try {
      events = await this.props.services.streams.followDeployment({ hook: caller }, body.id, 0);
    } catch (error) {
      // The deployment is committed: answer its 202 as plain JSON rather than an error that would
      // make the client think nothing happened.
      this.props.log.warn({ err: error, deploymentId: body.id }, 'could not follow a new deployment');
      return sendJson(res, 202, body, { location: body.statusUrl });
    }
    res.writeHead(202, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      location: body.statusUrl,
    });
    res.write(`event: deployment\ndata: ${JSON.stringify(body)}\n\n`);
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    const closed = () => void events.return?.();
    res.on('close', closed);
    let lastSequence = 0;
    try {
      for await (const event of events) {
        if (isStreamEnded(event)) {
          const error = event.ended.code === 'SHUTTING_DOWN' ? 'server shutting down' : event.ended.message;
          res.write(`event: error\ndata: ${JSON.stringify({ error, code: event.ended.code, id: body.id, lastSequence })}\n\n`);
          continue;
        }
        lastSequence = event.sequence;
        const data = {
          id: event.deploymentId,
          sequence: event.sequence,
          status: event.status.toLowerCase(),
          previousStatus: event.previousStatus?.toLowerCase() ?? null,
          reason: event.reason,
          message: event.message,
          at: event.at.toISOString(),
        };
        res.write(`event: status\nid: ${event.sequence}\ndata: ${JSON.stringify(data)}\n\n`);
      }
    } finally {
      clearInterval(heartbeat);
      res.off('close', closed);
      res.end();
    }
  }

  private async status(req: IncomingMessage, res: ServerResponse, match: HookPath & { kind: 'status' }): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      closeIfBodyPending(req, res);
      return sendJson(res, 405, { error: 'use GET to read a deployment' }, { allow: 'GET, HEAD' });
    }
    const caller = await this.authenticate(req, res, match);
    if (!caller) return;
    const deployment = await this.props.services.deployments.getDeploymentForHook(caller, match.deploymentId);
    if (!deployment) return sendJson(res, 404, { error: 'deployment not found' });
    sendJson(res, 200, this.describe(deployment, match.token));
  }

  /** One identical 401 for an unknown service, a wrong token and a revoked hook. */
  private async authenticate(req: IncomingMessage, res: ServerResponse, match: HookPath): Promise<HookCaller | null> {
    const address = this.props.limits.addressOf(req);
    const blockedFor = await this.props.limits.authBlockedFor(address);
    if (blockedFor !== null) throw new RateLimitedError(blockedFor);
    const caller = await this.props.services.hooks.authenticateHook(match.serviceId, match.token);
    if (caller) return caller;
    await this.props.limits.recordAuthFailure(address);
    closeIfBodyPending(req, res);
    sendJson(res, 401, UNAUTHORIZED);
    return null;
  }

  private tooLarge(res: ServerResponse): void {
    res.setHeader('connection', 'close');
    sendJson(res, 413, { error: `the body must be at most ${MAX_HOOK_BODY_BYTES} bytes` });
  }

  private describe(d: Deployment, token: string) {
    const statusUrl = `${this.props.publicUrl}/hooks/${encodeURIComponent(d.serviceId)}/${token}/deployments/${d.id}`;
    return {
      id: d.id,
      status: d.status.toLowerCase(),
      serviceId: d.serviceId,
      branch: d.branch,
      clearCache: d.clearCache,
      reason: d.reason,
      message: d.message,
      createdAt: d.createdAt.toISOString(),
      updatedAt: d.updatedAt.toISOString(),
      startedAt: d.startedAt?.toISOString() ?? null,
      finishedAt: d.finishedAt?.toISOString() ?? null,
      statusUrl,
    };
  }
}

function wantsEventStream(req: IncomingMessage): boolean {
  return (req.headers.accept ?? '').toLowerCase().includes('text/event-stream');
}

/** A query parameter that may appear at most once; null when absent. */
function singleParam(url: URL, name: string): string | null {
  const values = url.searchParams.getAll(name);
  if (values.length > 1) throw new InvalidInputError(name, `${name} must be given at most once`);
  return values[0] ?? null;
}

/** Reads and drops the body; false as soon as it grows past `limit`. */
function discardBody(req: IncomingMessage, limit: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        resolve(false);
      }
    };
    const onEnd = () => {
      cleanup();
      resolve(true);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    if (req.readableEnded) return resolve(true);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** Answering before a body is read: close the connection rather than read megabytes to reuse it. */
function closeIfBodyPending(req: IncomingMessage, res: ServerResponse): void {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && !req.readableEnded && !res.headersSent) res.setHeader('connection', 'close');
}
