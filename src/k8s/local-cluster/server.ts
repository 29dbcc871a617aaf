import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  ApiError,
  badRequest,
  internalError,
  methodNotAllowed,
  pathNotFound,
  serviceUnavailable,
  unsupportedMediaType,
} from './api-errors.js';
import { discoveryDocument } from './discovery.js';
import type { Faults } from './faults.js';
import type { Json, KubeObject } from './kube-object.js';
import { namespaceList, namespaceObject } from './namespaces.js';
import { openApiDocument } from './openapi.js';
import { readPodLog } from './pod-logs.js';
import { patchContentTypes, type ResourceApi } from './resource-api.js';
import { findResourceType, pipelineRuns, type ResourceType } from './resources.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import type { ObjectStore } from './store.js';
import { toTable, wantsTable } from './table.js';
import type { WatchHub } from './watch.js';

/** The API server's own request body limit. */
const maxBodyBytes = 3 * 1024 * 1024;

export interface ApiServerParts {
  store: ObjectStore;
  api: ResourceApi;
  watches: WatchHub;
  faults: Faults;
  /** Aborted when the cluster stops, so requests waiting out injected latency end too. */
  signal: AbortSignal;
}

interface ResourceRoute {
  type: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

export function createApiServer(parts: ApiServerParts): Server {
  return createServer((request, response) => {
    handle(parts, request, response).catch((error: unknown) => {
      if (parts.signal.aborted) {
        response.destroy();
        return;
      }
      const apiError = error instanceof ApiError ? error : internalError('unexpected server error');
      if (!(error instanceof ApiError)) console.error('local cluster: request failed', error);
      if (response.headersSent) response.destroy();
      else sendJson(response, apiError.code, apiError.toStatus());
    });
  });
}

async function handle(parts: ApiServerParts, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const { faults, signal } = parts;
  const url = new URL(request.url ?? '/', 'http://cluster');
  const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;

  // The test controls stay reachable during an injected outage, so the outage can be ended.
  if (path === '/_local/faults') {
    if (request.method === 'GET') return sendJson(response, 200, faults.state());
    if (request.method !== 'POST') throw methodNotAllowed();
    return sendJson(response, 200, faults.apply(await readJson(request)));
  }
  if (faults.unavailable) throw serviceUnavailable();
  await faults.delay(signal);
  if (faults.unavailable) throw serviceUnavailable();

  if (['/healthz', '/livez', '/readyz'].includes(path)) return sendText(response, 'ok');
  const address = `${request.socket.localAddress ?? '127.0.0.1'}:${request.socket.localPort ?? 0}`;
  const document = discoveryDocument(path, address) ?? openApiDocument(path);
  if (document) {
    if (request.method !== 'GET') throw methodNotAllowed();
    return sendJson(response, 200, document);
  }
  const namespace = /^\/api\/v1\/namespaces(?:\/([^/]+))?$/.exec(path);
  if (namespace) {
    if (request.method !== 'GET') throw methodNotAllowed();
    const name = namespace[1];
    return sendJson(response, 200, name ? namespaceObject(decodeURIComponent(name), 1) : namespaceList(parts.store));
  }
  const route = parseResourcePath(path);
  if (!route) throw pathNotFound();
  if (route.name === undefined) return handleCollection(parts, route, url.searchParams, request, response);
  return handleObject(parts, { ...route, name: route.name }, url.searchParams, request, response);
}

async function handleCollection(
  { api, watches, faults }: ApiServerParts,
  route: ResourceRoute,
  query: URLSearchParams,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const { type, namespace } = route;
  if (request.method === 'GET') {
    const labelSelector = parseLabelSelector(query.get('labelSelector'));
    const fieldSelector = parseFieldSelector(query.get('fieldSelector'), type);
    if (query.get('watch') === 'true' || query.get('watch') === '1') {
      const timeout = query.get('timeoutSeconds');
      const encode = (object: KubeObject) => toTable(type, [object], { resourceVersion: object.metadata.resourceVersion });
      return watches.serve(response, {
        type,
        ...(wantsTable(request.headers.accept) ? { encode } : {}),
        ...(namespace === undefined ? {} : { namespace }),
        labelSelector,
        fieldSelector,
        resourceVersion: query.get('resourceVersion'),
        allowBookmarks: query.get('allowWatchBookmarks') === 'true',
        ...(timeout ? { timeoutSeconds: Number(timeout) } : {}),
      });
    }
    const limit = Number(query.get('limit') ?? 0);
    const continueToken = query.get('continue');
    const list = api.list(type, namespace, {
      labelSelector,
      fieldSelector,
      ...(limit > 0 ? { limit } : {}),
      ...(continueToken ? { continueToken } : {}),
    });
    return sendJson(response, 200, wantsTable(request.headers.accept) ? toTable(type, list.items, list.metadata) : list);
  }
  if (request.method === 'POST' && namespace !== undefined) {
    requireContentType(request, ['application/json']);
    const body = await readJson(request);
    const failure = type === pipelineRuns ? faults.takeCreateFailure() : undefined;
    if (failure) throw failure;
    return sendJson(response, 201, api.create(type, namespace, body));
  }
  throw methodNotAllowed();
}

async function handleObject(
  { store, api }: ApiServerParts,
  route: ResourceRoute & { name: string },
  query: URLSearchParams,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const { type, namespace = '', name, subresource } = route;
  if (subresource === 'log' && type.plural === 'pods') {
    if (request.method !== 'GET') throw methodNotAllowed();
    return sendText(response, readPodLog(store, namespace, name, query.get('container')));
  }
  if (subresource !== undefined && (subresource !== 'status' || !type.statusSubresource)) throw pathNotFound();
  const status = subresource === 'status' ? 'status' : undefined;
  switch (request.method) {
    case 'GET': {
      const object = api.get(type, namespace, name);
      const table = !status && wantsTable(request.headers.accept);
      return sendJson(response, 200, table ? toTable(type, [object], { resourceVersion: object.metadata.resourceVersion }) : object);
    }
    case 'PUT':
      requireContentType(request, ['application/json']);
      return sendJson(response, 200, api.update(type, namespace, name, await readJson(request), status));
    case 'PATCH': {
      const contentType = mediaType(request);
      if (!(patchContentTypes as readonly string[]).includes(contentType)) {
        throw unsupportedMediaType([...patchContentTypes]);
      }
      return sendJson(response, 200, api.patch(type, namespace, name, contentType, await readJson(request), status));
    }
    case 'DELETE':
      if (status) throw methodNotAllowed();
      // The body may carry DeleteOptions; every deletion here is immediate with background cascading.
      await readBody(request);
      return sendJson(response, 200, api.delete(type, namespace, name));
    default:
      throw methodNotAllowed();
  }
}

/** `/api/v1/...` and `/apis/{group}/{version}/...`, namespaced or cluster-wide, with an optional subresource. */
function parseResourcePath(path: string): ResourceRoute | undefined {
  let segments: string[];
  try {
    segments = path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    throw badRequest(`malformed path: ${path}`);
  }
  let group = '';
  let version: string | undefined;
  let rest: string[];
  if (segments[0] === 'api') {
    version = segments[1];
    rest = segments.slice(2);
  } else if (segments[0] === 'apis') {
    group = segments[1] ?? '';
    version = segments[2];
    rest = segments.slice(3);
  } else {
    return undefined;
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource, ...extra] = rest;
  if (!version || !plural || extra.length > 0) return undefined;
  const type = findResourceType(group, version, plural);
  // Every kind here is namespaced: a single object is only addressable inside its namespace.
  if (!type || (name !== undefined && namespace === undefined)) return undefined;
  return {
    type,
    ...(namespace === undefined ? {} : { namespace }),
    ...(name === undefined ? {} : { name }),
    ...(subresource === undefined ? {} : { subresource }),
  };
}

function mediaType(request: IncomingMessage): string {
  return (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function requireContentType(request: IncomingMessage, accepted: string[]): void {
  const type = mediaType(request);
  // A missing Content-Type is read as JSON, as the API server's default serializer does.
  if (type && !accepted.includes(type)) throw unsupportedMediaType(accepted);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBodyBytes) {
      throw new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${maxBodyBytes}`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(request: IncomingMessage): Promise<Json> {
  const text = await readBody(request);
  try {
    return JSON.parse(text) as Json;
  } catch (error) {
    throw badRequest(`couldn't get version/kind; json parse error: ${(error as Error).message}`);
  }
}

function sendJson(response: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(code, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-cache, private',
  });
  response.end(text);
}

function sendText(response: ServerResponse, text: string): void {
  response.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}
