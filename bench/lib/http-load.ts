import autocannon from 'autocannon';
import { cpuPerRequestMicros, treeCpuMs } from './cpu.js';

export interface HttpTarget {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface HttpFigures {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Answers other than the expected status, errors and timeouts. */
  unexpected: number;
  /** CPU microseconds per request spent by each process tree during the measured run. */
  cpuMicrosPerRequest: Record<string, number>;
}

/**
 * autocannon against one target: a short warm-up (JIT, pools), then the measured run. The
 * expected status decides what counts as unexpected (202 for hooks, 401 for the wrong token).
 */
export async function measureHttp(
  target: HttpTarget,
  options: { connections: number; seconds: number; warmUpSeconds: number; expectStatus: number; cpuRoots?: Record<string, number | undefined> },
): Promise<HttpFigures> {
  const base = { url: target.url, method: target.method ?? 'POST', headers: target.headers, body: target.body, connections: options.connections, timeout: 10 };
  if (options.warmUpSeconds > 0) await autocannon({ ...base, duration: options.warmUpSeconds });
  const roots = options.cpuRoots ?? {};
  const cpuBefore = treeCpuMs(roots);
  const loaderBefore = process.cpuUsage();
  const result = await autocannon({ ...base, duration: options.seconds });
  const loader = process.cpuUsage(loaderBefore);
  const cpuAfter = treeCpuMs(roots);
  const expected = result.statusCodeStats?.[String(options.expectStatus)]?.count ?? 0;
  const total = result.requests.total;
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: total,
    unexpected: Math.max(0, total - expected) + result.errors + result.timeouts,
    cpuMicrosPerRequest: {
      ...cpuPerRequestMicros(cpuBefore, cpuAfter, total),
      loader: total > 0 ? Math.round((loader.user + loader.system) / total) : 0,
    },
  };
}
