import { randomBytes } from 'node:crypto';
import { startChild } from '../lib/child.js';
import { createServiceAndHook, triggerHook, waitForDispatch, type BenchEnvironment, type RunningApp } from '../lib/env.js';
import { measureHttp, type HttpFigures, type HttpTarget } from '../lib/http-load.js';
import { ratio, round, runPool, sleep } from '../lib/stats.js';

const CONNECTIONS = 50;

export interface HttpComparison {
  app: HttpFigures;
  baseline: HttpFigures;
  throughputRatio: number;
  p99Ratio: number;
}

function timing(env: BenchEnvironment) {
  return env.options.quick ? { rounds: 2, seconds: 2, warmUpSeconds: 1 } : { rounds: 3, seconds: 5, warmUpSeconds: 2 };
}

/** The median of the rounds' figures (the mean of two), so that one disturbed round weighs less. */
function combine(rounds: HttpFigures[]): HttpFigures {
  const mid = (pick: (f: HttpFigures) => number) => {
    const sorted = rounds.map(pick).sort((a, b) => a - b);
    const half = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[half]! : (sorted[half - 1]! + sorted[half]!) / 2;
  };
  return {
    requestsPerSecond: mid((f) => f.requestsPerSecond),
    p50Ms: mid((f) => f.p50Ms),
    p99Ms: mid((f) => f.p99Ms),
    requests: rounds.reduce((sum, f) => sum + f.requests, 0),
    unexpected: rounds.reduce((sum, f) => sum + f.unexpected, 0),
    cpuMicrosPerRequest: Object.fromEntries(Object.keys(rounds[0]!.cpuMicrosPerRequest).map((k) => [k, Math.round(mid((f) => f.cpuMicrosPerRequest[k] ?? 0))])),
  };
}

/**
 * Baseline and app in alternating rounds (baseline first in each), so that a change in the
 * machine's load during the run weighs on both. `afterAppRound` lets the app finish the
 * background work its round left (the dispatcher's backlog) before the next baseline round.
 */
async function compare(
  env: BenchEnvironment,
  app: RunningApp,
  name: string,
  appTarget: HttpTarget,
  baselineEnv: Record<string, string>,
  baselinePath: string,
  expectStatus: number,
  afterAppRound: () => Promise<void> = async () => {},
): Promise<HttpComparison> {
  const { rounds, seconds, warmUpSeconds } = timing(env);
  const baselineChild = await startChild<{ url: string }>('baseline-http.ts', { env: baselineEnv });
  const baselineTarget = { ...appTarget, url: baselineChild.ready.url + baselinePath };
  const appRounds: HttpFigures[] = [];
  const baselineRounds: HttpFigures[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const warmUp = round === 0 ? warmUpSeconds : 0;
      const baselineRoots = { ...env.cpuRoots(), server: baselineChild.process.pid };
      baselineRounds.push(await measureHttp(baselineTarget, { connections: CONNECTIONS, expectStatus, seconds, warmUpSeconds: warmUp, cpuRoots: baselineRoots }));
      const appRoots = { ...env.cpuRoots(), app: app.child.process.pid };
      appRounds.push(await env.profiled(app, `${name}-${round + 1}`, () => measureHttp(appTarget, { connections: CONNECTIONS, expectStatus, seconds, warmUpSeconds: warmUp, cpuRoots: appRoots })));
      await afterAppRound();
    }
  } finally {
    await baselineChild.stop();
  }
  const measured = combine(appRounds);
  const baseline = combine(baselineRounds);
  return {
    app: roundFigures(measured),
    baseline: roundFigures(baseline),
    throughputRatio: ratio(measured.requestsPerSecond, baseline.requestsPerSecond),
    p99Ratio: ratio(measured.p99Ms, baseline.p99Ms),
  };
}

function roundFigures(f: HttpFigures): HttpFigures {
  return { ...f, requestsPerSecond: round(f.requestsPerSecond) };
}

/** SQL statements the app sent, by kind, divided by `calls`. */
export interface StatementCount {
  calls: number;
  /** Statements a hook call makes before it answers. */
  inRequest: number;
  /** Statements caused afterwards by the dispatcher and the watch, per call. */
  background: number;
  byStatement: Record<string, number>;
}

async function countStatements(app: RunningApp, calls: number, call: () => Promise<unknown>, settle: () => Promise<unknown>): Promise<StatementCount> {
  await settle();
  await sleep(300);
  await app.child.call('resetStatements');
  for (let i = 0; i < calls; i++) await call();
  await settle();
  // The watch applies the ADDED events of the new PipelineRuns shortly after they are created.
  await sleep(1_000);
  const counts = await app.child.call<Record<string, number>>('statements');
  const byStatement: Record<string, number> = {};
  for (const [sql, n] of Object.entries(counts).sort((a, b) => b[1] - a[1])) byStatement[sql] = round(n / calls);
  const total = (test: (sql: string) => boolean) => Object.entries(counts).filter(([sql]) => test(sql)).reduce((sum, [, n]) => sum + n, 0);
  // The dispatcher (its claim transactions and their updates) and the watch (recordTransition)
  // run after the 202; everything else is the request's own.
  const claims = total((sql) => /for update skip locked/i.test(sql));
  const background =
    claims * 3 +
    total((sql) => /^update "deployments" set "dispatched_at"/.test(sql)) +
    total((sql) => /^with current as/.test(sql)) +
    total((sql) => /pg_notify/.test(sql));
  const all = total(() => true);
  const inRequest = all - background;
  return { calls, inRequest: round(inRequest / calls), background: round((all - inRequest) / calls), byStatement };
}

export interface HookScenario extends HttpComparison {
  statements: StatementCount;
  /** Deployments still waiting for their PipelineRun when the measured run ended, and how long the dispatcher took to catch up. */
  dispatchBacklogAtEnd: number;
  dispatchCatchUpMs: number;
}

/** Scenario 1: POST to a hook URL (202 after one transaction) vs a bare server doing one INSERT. */
export async function hookThroughput(env: BenchEnvironment): Promise<HookScenario> {
  const app = await env.startApp('hooks');
  try {
    const { hookUrl } = await createServiceAndHook(app);
    const statements = await countStatements(app, 50, () => triggerHook(hookUrl), () => waitForDispatch(app.databaseUrl, 30_000));
    let backlog = 0;
    let catchUpMs = 0;
    const comparison = await compare(env, app, 'hook', { url: hookUrl }, { BASELINE: 'insert', DATABASE_URL: app.databaseUrl }, '/hooks/svc/token', 202, async () => {
      backlog = Math.max(backlog, await queuedCount(app.databaseUrl));
      const started = Date.now();
      await waitForDispatch(app.databaseUrl, 120_000);
      catchUpMs = Math.max(catchUpMs, Date.now() - started);
    });
    return { ...comparison, statements, dispatchBacklogAtEnd: backlog, dispatchCatchUpMs: catchUpMs };
  } finally {
    await app.stop();
  }
}

/** Statements per call, leaving out the dispatcher's idle polls (begin, claim, commit every second). */
function perCallExcludingPolls(counts: Record<string, number>, calls: number): number {
  let total = 0;
  let claims = 0;
  for (const [sql, n] of Object.entries(counts)) {
    total += n;
    if (/for update skip locked/i.test(sql)) claims += n;
  }
  return round((total - 3 * claims) / calls);
}

async function queuedCount(databaseUrl: string): Promise<number> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>("select count(*)::int as n from deployments where dispatched_at is null and status = 'QUEUED'");
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

/** Scenario 2: a well-formed but wrong token (hashed, looked up, refused) vs a constant 401. */
export async function unauthorized(env: BenchEnvironment): Promise<HttpComparison & { statementsPerCall: number }> {
  const app = await env.startApp('unauthorized');
  try {
    const { serviceId } = await createServiceAndHook(app);
    const wrong = `${app.url}/hooks/${serviceId}/sbhook_${randomBytes(32).toString('base64url')}`;
    await app.child.call('resetStatements');
    for (let i = 0; i < 100; i++) await fetch(wrong, { method: 'POST' }).then((r) => r.arrayBuffer());
    const counts = await app.child.call<Record<string, number>>('statements');
    const statementsPerCall = perCallExcludingPolls(counts, 100);
    const comparison = await compare(env, app, 'unauthorized', { url: wrong }, { BASELINE: '401' }, '/hooks/svc/token', 401);
    return { ...comparison, statementsPerCall };
  } finally {
    await app.stop();
  }
}

export const DEPLOYMENTS_QUERY = '{ deployments(first: 50) { edges { cursor node { id status branch clearCache reason createdAt updatedAt } } pageInfo { hasNextPage endCursor } } }';

/** Scenario 3: `deployments(first: 50)` over HTTP POST vs the same SELECT JSON-encoded by a bare server. */
export async function deploymentsQuery(env: BenchEnvironment): Promise<HttpComparison & { seeded: number; statementsPerCall: number }> {
  const app = await env.startApp('query');
  try {
    const { hookUrl, organizationId } = await createServiceAndHook(app);
    const seeded = 250;
    await runPool(seeded, 10, async () => void (await triggerHook(hookUrl)), 60_000);
    await waitForDispatch(app.databaseUrl, 60_000);
    await sleep(1_000);
    const target: HttpTarget = {
      url: `${app.url}/graphql`,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${app.adminToken}` },
      body: JSON.stringify({ query: DEPLOYMENTS_QUERY }),
    };
    const probe = (await app.gql<{ deployments: { edges: unknown[] } }>(DEPLOYMENTS_QUERY)).deployments.edges.length;
    if (probe !== 50) throw new Error(`deployments(first: 50) returned ${probe} edges`);
    await app.child.call('resetStatements');
    for (let i = 0; i < 100; i++) await app.gql(DEPLOYMENTS_QUERY);
    const counts = await app.child.call<Record<string, number>>('statements');
    const statementsPerCall = perCallExcludingPolls(counts, 100);
    const comparison = await compare(env, app, 'query', target, { BASELINE: 'select', DATABASE_URL: app.databaseUrl, ORGANIZATION_ID: organizationId }, '/graphql', 200);
    return { ...comparison, seeded, statementsPerCall };
  } finally {
    await app.stop();
  }
}
