import type { IncomingMessage, ServerResponse } from 'node:http';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Logger } from '../logger.js';
import { asDomainError, HTTP_STATUS } from '../resolvers/errors.js';
import type { Viewer } from '../resolvers/auth.js';
import type { DomainServices } from '../resolvers/index.js';
import type { GraphQLContext } from '../schema/context.js';
import type { AbuseLimits } from './rate-limits.js';

/** What each transport hands yoga: the Node request, and over WebSocket the connection_init payload. */
export interface ServerContext {
  req: IncomingMessage;
  res?: ServerResponse;
  connectionParams?: Record<string, unknown>;
  /** Set on HTTP by the authentication step, before the operation is parsed. */
  viewer?: Viewer;
}

export type Yoga = YogaServerInstance<ServerContext, GraphQLContext>;

export interface GraphQLHandlerProps {
  schema: GraphQLSchema;
  services: DomainServices;
  limits: AbuseLimits;
  log: Logger;
}

const REQUEST_LEVEL_CODES = new Set(['UNAUTHENTICATED', 'RATE_LIMITED', 'UNAVAILABLE']);

/** A domain error as a GraphQL error: its message, `extensions.code`, details and HTTP status. */
function toGraphQLError(error: unknown): GraphQLError | undefined {
  const domain = asDomainError(error);
  if (!domain) return undefined;
  // Refusals of the whole request set the HTTP status; a field's error leaves it 200, as
  // GraphQL over HTTP expects for results that may carry data next to errors.
  if (!REQUEST_LEVEL_CODES.has(domain.code)) {
    return new GraphQLError(domain.message, { extensions: { code: domain.code, ...domain.details } });
  }
  const retryAfter = domain.details.retryAfter;
  const http = { status: HTTP_STATUS[domain.code], ...(retryAfter ? { headers: { 'retry-after': String(retryAfter) } } : {}) };
  return new GraphQLError(domain.message, { extensions: { code: domain.code, ...domain.details, http } });
}

/** Largest GraphQL request body (an operation and its variables); larger ones get 413. */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Refuses, before anything is parsed, requests whose shape is wrong, each with a JSON error:
 * - only JSON request bodies run an operation. A browser's "simple" cross-site POST (text/plain,
 *   a form, multipart) cannot set this content type without a CORS preflight, so it can never
 *   execute anything (GET needs the Authorization header, which such a request cannot carry);
 * - a body without a Content-Length (411) or announced over MAX_BODY_BYTES (413);
 * - GET parameters `variables` and `extensions` that are not JSON objects (400), which yoga would
 *   otherwise fail on inside the operation.
 */
function useRequestShape(): Plugin {
  const refuse = (status: number, message: string, fetchAPI: { Response: typeof Response }) =>
    new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] }), {
      status,
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (request.method === 'GET') {
        for (const name of ['variables', 'extensions']) {
          const raw = url.searchParams.get(name);
          if (raw !== null && !isJsonObject(raw)) return endResponse(refuse(400, `${name} must be a JSON object`, fetchAPI));
        }
        return;
      }
      if (request.method !== 'POST') return;
      const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json') return endResponse(refuse(415, 'send GraphQL requests as application/json', fetchAPI));
      // Every GraphQL client sends a length; a body streamed without one could not be capped
      // before yoga reads it whole.
      const length = request.headers.get('content-length');
      if (length === null) return endResponse(refuse(411, 'send a Content-Length with the request body', fetchAPI));
      if (Number(length) > MAX_BODY_BYTES) {
        return endResponse(refuse(413, `a GraphQL request body may be at most ${MAX_BODY_BYTES} bytes`, fetchAPI));
      }
    },
  };
}

/** A domain error other than an outage (which operators need to see). */
function isClientMistake(error: unknown): boolean {
  const domain = asDomainError(error);
  return domain !== undefined && domain.code !== 'UNAVAILABLE';
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return value === null || (typeof value === 'object' && !Array.isArray(value));
  } catch {
    return false;
  }
}

/**
 * Query limits (GraphQL Armor): depth, aliases, tokens and directives, checked at validation,
 * before anything runs; the same on HTTP, SSE and WebSocket because all three go
 * through this envelop. Field suggestions stay on for authenticated callers only: an
 * unauthenticated request is refused before validation.
 */
const armor = EnvelopArmorPlugin({
  maxDepth: { n: 12, ignoreIntrospection: true },
  maxAliases: { n: 15 },
  maxTokens: { n: 2_000 },
  maxDirectives: { n: 20 },
  // Cost is the schema's own complexity limit (Pothos), which also counts page sizes passed as variables.
  costLimit: { enabled: false },
  blockFieldSuggestion: { enabled: false },
});

/**
 * GraphQL over HTTP (and SSE) through graphql-yoga. Every operation needs `Authorization: Bearer`;
 * the context factory resolves it once per request. Error masking stays on: only domain errors
 * reach clients, everything else is logged and answered "Unexpected error.".
 */
export function createGraphQLHandler(props: GraphQLHandlerProps): Yoga {
  /**
   * The caller, from `Authorization: Bearer` on HTTP and SSE or the connection_init payload on
   * WebSocket. Throws a GraphQL error carrying 401, 429 or 503.
   */
  const authenticate = async (req: IncomingMessage | undefined, authorization: unknown): Promise<Viewer> => {
    const address = req ? props.limits.addressOf(req) : 'unknown';
    try {
      const blockedFor = await props.limits.authBlockedFor(address);
      if (blockedFor !== null) {
        throw new GraphQLError('too many failed authentications', {
          extensions: { code: 'RATE_LIMITED', http: { status: 429, headers: { 'retry-after': String(blockedFor) } } },
        });
      }
      const viewer = await props.services.auth.authenticate(typeof authorization === 'string' ? authorization : null);
      if (!viewer) {
        throw new GraphQLError('a valid API token is required: send "Authorization: Bearer <api token>"', {
          extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
        });
      }
      return viewer;
    } catch (error) {
      if (error instanceof GraphQLError) throw error;
      const mapped = toGraphQLError(error);
      if (mapped?.extensions.code === 'UNAUTHENTICATED') await props.limits.recordAuthFailure(address);
      throw mapped ?? error;
    }
  };

  /**
   * Authentication comes before parsing and validation, so a caller without a valid token learns
   * nothing about the schema (no validation errors, no field suggestions).
   */
  const authenticateFirst: Plugin<{}, ServerContext> = {
    async onRequest({ request, serverContext, endResponse, fetchAPI }) {
      if (request.method === 'OPTIONS') return;
      try {
        serverContext.viewer = await authenticate(serverContext.req, request.headers.get('authorization'));
      } catch (error) {
        const graphQLError = error instanceof GraphQLError ? error : new GraphQLError('Unexpected error.');
        const http = (graphQLError.extensions.http ?? {}) as { status?: number; headers?: Record<string, string> };
        const { http: _omit, ...extensions } = graphQLError.extensions;
        endResponse(
          new fetchAPI.Response(JSON.stringify({ errors: [{ message: graphQLError.message, extensions }] }), {
            status: http.status ?? 500,
            headers: { 'content-type': 'application/json; charset=utf-8', ...http.headers },
          }),
        );
      }
    },
  };

  return createYoga<ServerContext, GraphQLContext>({
    schema: props.schema,
    graphqlEndpoint: '/graphql',
    graphiql: false,
    landingPage: false,
    batching: false,
    // No CORS: the live page is served from this origin, and CI and scripts are not browsers. A
    // dashboard on another origin would need its origin listed here, never a reflected one.
    cors: false,
    plugins: [useRequestShape(), authenticateFirst, armor],
    logging: {
      debug: () => {},
      info: () => {},
      warn: (...args) => props.log.warn({ args }, 'graphql warning'),
      // yoga reports every error it replaced while masking; a client's own mistake (a domain
      // error: bad input, not found, shutting down) is no server error, and unexpected ones are
      // logged by maskError below with their stack.
      error: (...args) =>
        args.every((a) => isClientMistake(a instanceof GraphQLError ? (a.originalError ?? a) : a))
          ? props.log.debug({ args }, 'graphql client error')
          : props.log.error({ args }, 'graphql error'),
    },
    maskedErrors: {
      maskError(error, message) {
        const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
        const mapped = toGraphQLError(original);
        if (mapped) return mapped;
        // GraphQL errors thrown on purpose (limits, validation) are already meant for clients.
        if (error instanceof GraphQLError && (!error.originalError || error.originalError instanceof GraphQLError)) {
          // yoga copies the JSON parser's own error (which quotes the body back) into the answer to
          // an unparsable request. Its presence is what makes yoga answer 400 rather than 200, so it
          // is replaced, not removed; the same object is returned, so nothing logs it as unexpected.
          if (error.extensions && 'originalError' in error.extensions) {
            (error.extensions as Record<string, unknown>).originalError = { name: 'BadRequest', message: 'the request body is not valid JSON' };
          }
          return error;
        }
        props.log.error({ err: original }, 'unexpected error in a GraphQL operation');
        return new GraphQLError(message, { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
      },
    },
    context: async ({ viewer, req, connectionParams }) => ({
      viewer: viewer ?? (await authenticate(req, connectionParams?.authorization)),
      services: props.services,
    }),
  });
}
