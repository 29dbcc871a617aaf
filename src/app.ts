import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import type { AppConfig } from './config.js';
import type { Db } from './db/database.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './db/embedded.js';
import { migrateToLatest } from './db/migrate.js';
import { createDatabase } from './db/pool.js';
import { createGraphQLHandler } from './http/graphql.js';
import { sendHealth, sendReadiness, type ReadinessCheck } from './http/health.js';
import { HookRoute, matchHookPath } from './http/hook-route.js';
import { AbuseLimits } from './http/rate-limits.js';
import { sendJson } from './http/respond.js';
import { createLogger, type Logger } from './logger.js';
import { createDomainServices, type DomainServices } from './resolvers/index.js';
import { buildSchema } from './schema/index.js';

export interface App {
  /** Where the server listens, e.g. http://127.0.0.1:4000. */
  url: string;
  /** Base of the hook URLs handed out (PUBLIC_URL, or `url`). */
  publicUrl: string;
  /** Set when no platform administrator existed and none was configured: print it once. */
  generatedAdminToken: string | null;
  db: Db;
  services: DomainServices;
  /** Drains: stops accepting, lets in-flight requests finish, then closes everything it opened. */
  stop(): Promise<void>;
}

export interface BuildAppProps {
  config: AppConfig;
  log?: Logger;
  /** How long stop() waits for in-flight requests before closing their connections. */
  drainTimeoutMs?: number;
}

/**
 * Starts the whole product: the database (embedded unless DATABASE_URL), migrations, the bootstrap
 * admin, and the HTTP server with GraphQL, the hook route and health endpoints.
 */
export async function startApp(props: BuildAppProps): Promise<App> {
  const { config } = props;
  const log = props.log ?? createLogger();
  const cleanup: Array<() => Promise<void>> = [];
  const runCleanup = async () => {
    for (const step of cleanup.reverse()) {
      await step().catch((error) => log.error({ err: error }, 'error while stopping'));
    }
  };

  try {
    let embedded: EmbeddedPostgres | null = null;
    if (!config.databaseUrl) {
      embedded = await startEmbeddedPostgres(config.dataDir);
      cleanup.push(() => embedded!.stop());
    }
    const { db } = createDatabase({ connectionString: config.databaseUrl ?? embedded!.connectionString });
    cleanup.push(() => db.destroy());
    await migrateToLatest(db);

    const server = http.createServer();
    server.listen(config.port, config.host);
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    cleanup.push(() => new Promise((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    const publicUrl = config.publicUrl ?? url;

    const services = createDomainServices({ db, publicUrl });
    const { generatedToken } = await services.organizations.ensureBootstrapAdmin(config.bootstrapAdminToken ?? undefined);

    const limits = new AbuseLimits({ hookRateLimit: config.hookRateLimit, authFailureLimit: config.authFailureLimit });
    const yoga = createGraphQLHandler({ schema: buildSchema(), services, limits, log });
    const hookRoute = new HookRoute({ services, limits, publicUrl, log });
    const readiness: ReadinessCheck[] = [
      { name: 'database', check: async () => (await sql`select 1`.execute(db), true) },
    ];

    server.on('request', (req, res) => {
      let url: URL;
      try {
        if (!req.url?.startsWith('/')) throw new TypeError('not an origin-form request target');
        url = new URL(`http://localhost${req.url}`);
      } catch {
        return sendJson(res, 400, { error: 'malformed request target' });
      }
      if (url.pathname === '/graphql') return void yoga(req, res);
      const hook = matchHookPath(url.pathname);
      if (hook === 'malformed') return sendJson(res, 400, { error: 'malformed percent-encoding in the path' });
      if (hook) return void hookRoute.handle(req, res, hook, url);
      if (url.pathname === '/healthz') return sendHealth(res);
      if (url.pathname === '/readyz') return void sendReadiness(res, readiness);
      sendJson(res, 404, { error: 'not found' });
    });
    server.on('clientError', (_error, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      else socket.destroy();
    });

    // Draining: refuse new connections, let in-flight requests finish, then cut what is left.
    const drainTimeoutMs = props.drainTimeoutMs ?? 10_000;
    const drain = async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), drainTimeoutMs);
      await closed;
      clearTimeout(timer);
    };
    cleanup.pop(); // server.close is part of drain
    cleanup.push(drain);

    let stopping: Promise<void> | null = null;
    return {
      url,
      publicUrl,
      generatedAdminToken: generatedToken,
      db,
      services,
      stop: () => (stopping ??= runCleanup()),
    };
  } catch (error) {
    await runCleanup();
    throw error;
  }
}
