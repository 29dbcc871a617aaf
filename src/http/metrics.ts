import type { IncomingMessage, ServerResponse } from 'node:http';
import { sql } from 'kysely';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../db/database.js';
import { DEPLOYMENT_STATUSES } from '../db/tables/deployments.js';

/** What the metrics read at scrape time; each part of the app already counts its own. */
export interface MetricSources {
  db: Db;
  dispatchRetries: () => number;
  watchRestarts: () => number;
  openSubscriptions: () => number;
  websocketClients: () => number;
}

/** Routes as metric labels: never the path itself, which for hooks carries the token. */
export type RouteLabel = 'graphql' | 'hook_trigger' | 'hook_status' | 'healthz' | 'readyz' | 'metrics' | 'page' | 'other';

const HOOK_OUTCOMES: Record<number, string> = {
  202: 'accepted',
  400: 'invalid',
  401: 'unauthorized',
  405: 'method_not_allowed',
  413: 'too_large',
  429: 'rate_limited',
  503: 'unavailable',
};

/**
 * Prometheus metrics (prom-client, one registry per app): hook calls by outcome, request latency
 * by route, deployments by status, the dispatcher's queue and retries, watch restarts, open
 * subscriptions, plus the Node.js process defaults.
 */
export class AppMetrics {
  readonly registry = new Registry();
  private readonly requestDuration: Histogram<'route' | 'method' | 'status'>;
  private readonly hookCalls: Counter<'outcome'>;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requestDuration = new Histogram({
      name: 'stackblaze_http_request_duration_seconds',
      help: 'HTTP request latency by route, method and status code.',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.hookCalls = new Counter({
      name: 'stackblaze_hook_calls_total',
      help: 'Hook POSTs by outcome.',
      labelNames: ['outcome'],
      registers,
    });
    new Gauge({
      name: 'stackblaze_deployments',
      help: 'Deployments by current status.',
      labelNames: ['status'],
      registers,
      async collect() {
        const rows = await sources.db.selectFrom('deployments').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('status').execute();
        for (const status of DEPLOYMENT_STATUSES) this.set({ status }, Number(rows.find((r) => r.status === status)?.n ?? 0));
      },
    });
    new Gauge({
      name: 'stackblaze_dispatch_queue_depth',
      help: 'Deployments waiting for their PipelineRun to be created.',
      registers,
      async collect() {
        const { rows } = await sql<{ n: number }>`select count(*)::int as n from deployments where dispatched_at is null and status = 'QUEUED'`.execute(sources.db);
        this.set(rows[0]?.n ?? 0);
      },
    });
    const counterFrom = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    counterFrom('stackblaze_dispatch_retries_total', 'PipelineRun creates that failed and were retried.', sources.dispatchRetries);
    counterFrom('stackblaze_watch_restarts_total', 'Restarts of the PipelineRun watch after an error or a stall.', sources.watchRestarts);
    new Gauge({
      name: 'stackblaze_open_subscriptions',
      help: 'Open deployment status streams (GraphQL subscriptions, SSE and hook follow mode).',
      registers,
      collect() {
        this.set(sources.openSubscriptions());
      },
    });
    new Gauge({
      name: 'stackblaze_websocket_clients',
      help: 'Open graphql-ws connections.',
      registers,
      collect() {
        this.set(sources.websocketClients());
      },
    });
  }

  /** Times a request from now until its response is finished or abandoned. */
  observe(req: IncomingMessage, res: ServerResponse, route: RouteLabel): void {
    const end = this.requestDuration.startTimer({ route, method: req.method ?? 'OTHER' });
    res.once('close', () => {
      end({ status: String(res.statusCode) });
      if (route === 'hook_trigger' && req.method === 'POST') this.hookCalls.inc({ outcome: HOOK_OUTCOMES[res.statusCode] ?? `http_${res.statusCode}` });
    });
  }

  async send(res: ServerResponse): Promise<void> {
    try {
      const body = await this.registry.metrics();
      res.writeHead(200, { 'content-type': this.registry.contentType, 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '5' });
      res.end('metrics unavailable: the database did not answer\n');
    }
  }
}
