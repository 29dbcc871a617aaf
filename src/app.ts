import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { sql } from 'kysely';
import type { AppConfig } from './config.js';
import type { Db } from './db/database.js';
import { startEmbeddedPostgres } from './db/embedded.js';
import { migrateToLatest } from './db/migrate.js';
import { createDatabase } from './db/pool.js';
import { createGraphQLHandler } from './http/graphql.js';
import { sendHealth, sendReadiness, type ReadinessCheck } from './http/health.js';
import { HookRoute, matchHookPath } from './http/hook-route.js';
import { isLivePagePath, serveLivePage } from './http/live-page.js';
import { AppMetrics, type RouteLabel } from './http/metrics.js';
import { AbuseLimits } from './http/rate-limits.js';
import { attachGraphQLWebSocket } from './http/websocket.js';
import { sendJson } from './http/respond.js';
import { DeploymentDispatcher } from './k8s/dispatcher.js';
import { KubePipelineRunClient } from './k8s/kube-client.js';
import { startLocalCluster, type LocalCluster } from './k8s/local-cluster/index.js';
import { PipelineRunWatcher } from './k8s/watcher.js';
import { createLogger, type Logger } from './logger.js';
import { PostgresNotifications } from './pubsub/postgres-notifications.js';
import { createDeploymentPubSub } from './pubsub/pubsub.js';
import { createDomainServices, type DomainServices } from './resolvers/index.js';
import { buildSchema } from './schema/index.js';

export interface App {
  /** Where the server listens, e.g. http://127.0.0.1:4000. */
  url: string;
  /** Base of the hook URLs handed out (PUBLIC_URL, or `url`). */
  publicUrl: string;
  /** Set when no platform administrator existed and none was configured: print it once. */
  generatedAdminToken: string | null;
  /** The embedded cluster when no KUBECONFIG was given (tests reach its fault injection here). */
  localCluster: LocalCluster | null;
  db: Db;
  services: DomainServices;
  dispatcher: DeploymentDispatcher;
  watcher: PipelineRunWatcher;
  notifications: PostgresNotifications;
  /** Drains: stops accepting, lets in-flight requests finish, then closes everything it opened. */
  stop(): Promise<void>;
}

/** Timings tests shorten; production uses the defaults of each component. */
export interface AppTuning {
  simulationStepMs?: number;
  dispatchPollMs?: number;
  dispatchGiveUpAfterMs?: number;
  watchTimeoutSeconds?: number;
  watchSilenceTimeoutMs?: number;
  watchConnectTimeoutMs?: number;
  watchMaxBackoffMs?: number;
  drainTimeoutMs?: number;
}

export interface StartAppProps {
  config: AppConfig;
  log?: Logger;
  tuning?: AppTuning;
}

/**
 * Starts the whole product: the database (embedded unless DATABASE_URL), migrations, the bootstrap
 * admin, Kubernetes (the local cluster unless KUBECONFIG or in a pod), the dispatcher and the
 * PipelineRun watch, then the HTTP server with GraphQL, the hook route and health endpoints.
 */
export async function startApp(props: StartAppProps): Promise<App> {
  const { config } = props;
  const tuning = props.tuning ?? {};
  const log = props.log ?? createLogger();
  // Everything started is stopped in reverse order, on stop() or when start-up fails half way.
  const cleanup: Array<() => Promise<void>> = [];
  const runCleanup = async () => {
    for (const step of cleanup.reverse()) {
      await step().catch((error) => log.error({ err: error }, 'error while stopping'));
    }
  };

  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const embedded = await startEmbeddedPostgres(config.dataDir);
      cleanup.push(() => embedded.stop());
      databaseUrl = embedded.connectionString;
    }
    const { db } = createDatabase({ connectionString: databaseUrl });
    cleanup.push(() => db.destroy());
    await migrateToLatest(db);

    const kubeConfig = new KubeConfig();
    let localCluster: LocalCluster | null = null;
    if (config.kubeconfig) {
      kubeConfig.loadFromFile(config.kubeconfig);
    } else if (config.inCluster) {
      kubeConfig.loadFromCluster();
    } else {
      localCluster = await startLocalCluster({
        dataDir: config.dataDir,
        tekton: config.localTekton,
        simulation: { stepMs: tuning.simulationStepMs },
      });
      cleanup.push(() => localCluster!.stop());
      kubeConfig.loadFromFile(localCluster.kubeconfigPath);
    }
    const pipelineRuns = new KubePipelineRunClient({ kubeConfig, namespace: config.buildNamespace });

    // The port is known only once listening (PORT=0), and hook URLs are built from it.
    const server = http.createServer();
    let handler: http.RequestListener = (_req, res) => sendJson(res, 503, { error: 'starting' }, { 'retry-after': '1' });
    // Once draining, a request is new work even on a connection kept alive from before: it is
    // refused with 503 (a load balancer retries it elsewhere) and its connection closed. Requests
    // already in flight finish, and their answers close their connections too.
    let draining = false;
    const inFlight = new Set<http.ServerResponse>();
    server.on('request', (req, res) => {
      if (draining) return sendJson(res, 503, { error: 'shutting down' }, { 'retry-after': '1', connection: 'close' });
      inFlight.add(res);
      res.once('close', () => inFlight.delete(res));
      handler(req, res);
    });
    server.listen(config.port, config.host);
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    const closeServer = () => new Promise<void>((resolve) => server.close(() => resolve()));
    cleanup.push(closeServer);
    const { port } = server.address() as AddressInfo;
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    const publicUrl = config.publicUrl ?? url;

    const pubsub = createDeploymentPubSub();
    const notifications = new PostgresNotifications({ connectionString: databaseUrl, db, pubsub, log });
    await notifications.start();
    cleanup.push(() => notifications.stop());

    let dispatcher: DeploymentDispatcher | null = null;
    const services = createDomainServices({
      db,
      publicUrl,
      pipelineRuns,
      pubsub,
      notifications,
      onDeploymentQueued: () => dispatcher?.wake(),
    });
    const { generatedToken } = await services.organizations.ensureBootstrapAdmin(config.bootstrapAdminToken ?? undefined);

    dispatcher = new DeploymentDispatcher({
      db,
      deployments: services.deployments,
      pipelineRuns,
      namespace: config.buildNamespace,
      imageRegistry: config.imageRegistry,
      serviceAccount: config.buildServiceAccount,
      log,
      pollIntervalMs: tuning.dispatchPollMs,
      giveUpAfterMs: tuning.dispatchGiveUpAfterMs,
    });
    dispatcher.start();
    cleanup.push(() => dispatcher!.stop());

    const watcher = new PipelineRunWatcher({
      kubeConfig,
      namespace: config.buildNamespace,
      db,
      deployments: services.deployments,
      pipelineRuns,
      log,
      watchTimeoutSeconds: tuning.watchTimeoutSeconds,
      silenceTimeoutMs: tuning.watchSilenceTimeoutMs,
      connectTimeoutMs: tuning.watchConnectTimeoutMs,
      maxBackoffMs: tuning.watchMaxBackoffMs,
    });
    watcher.start();
    cleanup.push(() => watcher.stop());

    const limits = new AbuseLimits({
      hookRateLimit: config.hookRateLimit,
      authFailureLimit: config.authFailureLimit,
      trustedProxies: config.trustProxy,
    });
    const yoga = createGraphQLHandler({ schema: buildSchema(), services, limits, log });
    const hookRoute = new HookRoute({ services, limits, publicUrl, log });
    const websocket = attachGraphQLWebSocket({ server, yoga, log });
    const readiness: ReadinessCheck[] = [
      { name: 'database', check: async () => (await sql`select 1`.execute(db), true) },
      { name: 'pipelineRunWatch', check: () => watcher.isSynced() },
      { name: 'notifications', check: () => notifications.isListening() },
    ];

    const metrics = new AppMetrics({
      db,
      dispatchRetries: () => dispatcher!.retries,
      watchRestarts: () => watcher.restarts,
      openSubscriptions: () => services.streams.openCount(),
      websocketClients: () => websocket.clientCount(),
    });

    /** Metrics and one access-log line per request, labelled by route (paths may hold tokens). */
    const track = (req: http.IncomingMessage, res: http.ServerResponse, route: RouteLabel) => {
      metrics.observe(req, res, route);
      const started = performance.now();
      res.once('close', () => {
        log.info({ route, method: req.method, status: res.statusCode, ms: Math.round(performance.now() - started) }, 'request');
      });
    };

    handler = (req, res) => {
      let url: URL;
      try {
        if (!req.url?.startsWith('/')) throw new TypeError('not an origin-form request target');
        url = new URL(`http://localhost${req.url}`);
      } catch {
        return sendJson(res, 400, { error: 'malformed request target' });
      }
      if (url.pathname === '/graphql') {
        track(req, res, 'graphql');
        return void yoga(req, res);
      }
      const hook = matchHookPath(url.pathname);
      if (hook === 'malformed') return sendJson(res, 400, { error: 'malformed percent-encoding in the path' });
      if (hook) {
        track(req, res, hook.kind === 'trigger' ? 'hook_trigger' : 'hook_status');
        return void hookRoute.handle(req, res, hook, url);
      }
      if (isLivePagePath(url.pathname)) {
        track(req, res, 'page');
        return void serveLivePage(req, res, url.pathname);
      }
      if (url.pathname === '/healthz') return sendHealth(res);
      if (url.pathname === '/readyz') return void sendReadiness(res, readiness);
      if (url.pathname === '/metrics') return void metrics.send(res);
      sendJson(res, 404, { error: 'not found' });
    };
    // Requests Node's parser refuses never reach a handler: answer them in the same JSON shape.
    server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
      if (!socket.writable) return void socket.destroy();
      const [status, body] =
        error.code === 'HPE_HEADER_OVERFLOW'
          ? ['431 Request Header Fields Too Large', '{"error":"the request line or headers are too large"}']
          : ['400 Bad Request', '{"error":"malformed HTTP request"}'];
      socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json; charset=utf-8\r\nconnection: close\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    });

    // Draining comes first on stop: refuse new connections, let in-flight requests finish, then
    // cut what is left; only then do the watch, the dispatcher and the database close.
    cleanup.splice(cleanup.indexOf(closeServer), 1);
    cleanup.push(async () => {
      draining = true;
      for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
      const closed = closeServer();
      // Subscribers are told (a last error saying so, then the stream completes; WebSocket
      // clients then get 1001) rather than cut off: their sockets close only once it is sent.
      await services.streams.closeAll();
      await websocket.close();
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), tuning.drainTimeoutMs ?? 10_000);
      await closed;
      clearTimeout(timer);
    });

    let stopping: Promise<void> | null = null;
    return {
      url,
      publicUrl,
      generatedAdminToken: generatedToken,
      localCluster,
      db,
      services,
      dispatcher,
      watcher,
      notifications,
      stop: () => (stopping ??= runCleanup()),
    };
  } catch (error) {
    await runCleanup();
    throw error;
  }
}
