import type { IncomingMessage, ServerResponse } from 'node:http';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { Logger } from '../logger.js';
import { asDomainError, HTTP_STATUS } from '../resolvers/errors.js';
import type { DomainServices } from '../resolvers/index.js';
import type { GraphQLContext } from '../schema/context.js';
import type { AbuseLimits } from './rate-limits.js';
import { clientAddress } from './respond.js';

/** What each transport hands yoga: the Node request, and over WebSocket the connection_init payload. */
export interface ServerContext {
  req: IncomingMessage;
  res?: ServerResponse;
  connectionParams?: Record<string, unknown>;
}

export type Yoga = YogaServerInstance<ServerContext, GraphQLContext>;

export interface GraphQLHandlerProps {
  schema: GraphQLSchema;
  services: DomainServices;
  limits: AbuseLimits;
  log: Logger;
}

/** A domain error as a GraphQL error: its message, `extensions.code`, details and HTTP status. */
function toGraphQLError(error: unknown): GraphQLError | undefined {
  const domain = asDomainError(error);
  if (!domain) return undefined;
  const retryAfter = domain.details.retryAfter;
  const http = { status: HTTP_STATUS[domain.code], ...(retryAfter ? { headers: { 'retry-after': String(retryAfter) } } : {}) };
  return new GraphQLError(domain.message, { extensions: { code: domain.code, ...domain.details, http } });
}

/**
 * GraphQL over HTTP (and SSE) through graphql-yoga. Every operation needs `Authorization: Bearer`;
 * the context factory resolves it once per request. Error masking stays on: only domain errors
 * reach clients, everything else is logged and answered "Unexpected error.".
 */
export function createGraphQLHandler(props: GraphQLHandlerProps): Yoga {
  return createYoga<ServerContext, GraphQLContext>({
    schema: props.schema,
    graphqlEndpoint: '/graphql',
    graphiql: false,
    landingPage: false,
    logging: {
      debug: () => {},
      info: () => {},
      warn: (...args) => props.log.warn({ args }, 'graphql warning'),
      error: (...args) => props.log.error({ args }, 'graphql error'),
    },
    maskedErrors: {
      maskError(error, message) {
        const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
        const mapped = toGraphQLError(original);
        if (mapped) return mapped;
        if (error instanceof GraphQLError && !error.originalError) return error;
        props.log.error({ err: original }, 'unexpected error in a GraphQL operation');
        return new GraphQLError(message, { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
      },
    },
    context: async ({ request, req, connectionParams }) => {
      const address = req ? clientAddress(req) : 'unknown';
      try {
        const blockedFor = await props.limits.authBlockedFor(address);
        if (blockedFor !== null) {
          throw new GraphQLError('too many failed authentications', {
            extensions: { code: 'RATE_LIMITED', http: { status: 429, headers: { 'retry-after': String(blockedFor) } } },
          });
        }
        const authorization = connectionParams ? connectionParams.authorization : request.headers.get('authorization');
        const viewer = await props.services.auth.authenticate(typeof authorization === 'string' ? authorization : null);
        if (!viewer) {
          throw new GraphQLError('a valid API token is required: send "Authorization: Bearer <api token>"', {
            extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
          });
        }
        return { viewer, services: props.services };
      } catch (error) {
        if (error instanceof GraphQLError) throw error;
        const mapped = toGraphQLError(error);
        if (mapped?.extensions.code === 'UNAUTHENTICATED') await props.limits.recordAuthFailure(address);
        throw mapped ?? error;
      }
    },
  });
}
