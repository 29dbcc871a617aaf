import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError, type ExecutionArgs, type GraphQLFormattedError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../logger.js';
import type { Yoga } from './graphql.js';

export interface GraphQLWebSocketProps {
  server: Server;
  yoga: Yoga;
  log: Logger;
  /** Largest message a client may send; larger ones close the socket (1009). */
  maxPayloadBytes?: number;
  maxSubscriptionsPerSocket?: number;
  /** A client must send connection_init within this long (else 4408). */
  connectionInitWaitTimeoutMs?: number;
  /** Ping interval; a peer that does not answer is cut off, so dropped TCP connections are freed. */
  keepAliveMs?: number;
}

type Extra = {
  socket: WebSocket;
  request: IncomingMessage;
};

/**
 * graphql-ws (the `graphql-transport-ws` protocol) on `/graphql`, on the HTTP server's port. Each
 * operation runs through yoga's own envelop (parse, validate, context, execute/subscribe, error
 * masking), so authentication and limits are those of HTTP. The protocol's rules (4400, 4401,
 * 4403, 4408, 4409, 4429, ping/pong) are graphql-ws's own.
 */
export function attachGraphQLWebSocket(props: GraphQLWebSocketProps): { close(): Promise<void>; clientCount(): number } {
  const maxSubscriptions = props.maxSubscriptionsPerSocket ?? 100;
  const wss = new WebSocketServer({ noServer: true, maxPayload: props.maxPayloadBytes ?? 64 * 1024 });

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/graphql') {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  props.server.on('upgrade', onUpgrade);

  const server = useServer<Record<string, unknown> | undefined, Extra>(
    {
      connectionInitWaitTimeout: props.connectionInitWaitTimeoutMs ?? 3_000,
      onConnect: async (ctx) => {
        // The token travels in connection_init; a missing or wrong one is refused here (4403).
        const { contextFactory } = props.yoga.getEnveloped({
          req: ctx.extra.request,
          connectionParams: ctx.connectionParams,
        });
        try {
          await contextFactory();
          return true;
        } catch {
          return false;
        }
      },
      onSubscribe: async (ctx, _id, payload) => {
        // graphql-ws has already reserved this operation's id in ctx.subscriptions.
        if (Object.keys(ctx.subscriptions).length > maxSubscriptions) {
          return [new GraphQLError(`at most ${maxSubscriptions} operations at once on one connection`, { extensions: { code: 'RATE_LIMITED' } })];
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = props.yoga.getEnveloped({
          req: ctx.extra.request,
          connectionParams: ctx.connectionParams,
          params: payload,
        });
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [error instanceof GraphQLError ? error : new GraphQLError('the query could not be parsed')];
        }
        // GraphQL Armor's limits (depth, aliases, directives) throw from validation rather than
        // return errors: either way they end this one operation, not the socket and its neighbours.
        let errors;
        try {
          errors = validate(schema, document);
        } catch (error) {
          return [error instanceof GraphQLError ? error : new GraphQLError('the query could not be validated')];
        }
        if (errors.length > 0) return errors;
        let contextValue;
        try {
          contextValue = await contextFactory();
        } catch (error) {
          return [error instanceof GraphQLError ? error : new GraphQLError('Unexpected error.')];
        }
        const args: ExecutionArgs = {
          schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue,
          rootValue: { execute, subscribe },
        };
        return args;
      },
      // Errors carry yoga's `extensions.http` (the status an HTTP answer would have): meaningless
      // in a WebSocket message, so it is left out there. Results without errors pass untouched.
      onError: (_ctx, _id, _payload, errors) => errors.map(withoutHttpExtension),
      onNext: (_ctx, _id, _payload, _args, result) => (result.errors ? { ...result, errors: result.errors.map(withoutHttpExtension) } : undefined),
      execute: (args: ExecutionArgs) => (args.rootValue as { execute: (a: ExecutionArgs) => unknown }).execute(args) as never,
      subscribe: (args: ExecutionArgs) => (args.rootValue as { subscribe: (a: ExecutionArgs) => unknown }).subscribe(args) as never,
    },
    wss,
    props.keepAliveMs ?? 12_000,
  );

  return {
    clientCount: () => wss.clients.size,
    async close() {
      props.server.off('upgrade', onUpgrade);
      // Tells every client the server is going away (1001) and completes its subscriptions.
      await server.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

function withoutHttpExtension(error: GraphQLError | GraphQLFormattedError): GraphQLFormattedError {
  const formatted = error instanceof GraphQLError ? error.toJSON() : error;
  if (!formatted.extensions || !('http' in formatted.extensions)) return formatted;
  const { http: _http, ...extensions } = formatted.extensions;
  return { ...formatted, extensions };
}
