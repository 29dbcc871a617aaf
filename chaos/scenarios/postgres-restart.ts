import type { LoadRecord } from '../load-records.js';
import { lastWords } from '../processes.js';
import { ScenarioReport, type ScenarioResult } from '../report.js';
import { byDeployment, DEPLOYMENT_EVENTS, openSseSubscription, openWsSubscriptions, SERVICE_EVENTS, type Subscriber } from '../subscribers.js';
import {
  createHookedService,
  deploymentsWhenFinished,
  eventually,
  listPipelineRuns,
  readiness,
  scenarioDir,
  sleep,
  startAppProcess,
  startCluster,
  startLoad,
  TERMINAL,
  waitReady,
  type ChaosRun,
} from '../stack.js';

export interface PostgresRestartOptions {
  /** How long PostgreSQL stays down. */
  outageMs: number;
  /** Load before the outage and after the restart. */
  beforeMs?: number;
  afterMs?: number;
  print?: (line: string) => void;
}

/** The contract: an outage is a 503 with Retry-After, never a hanging request. */
const MAX_OUTAGE_ANSWER_MS = 5_000;
/** After PostgreSQL is back, calls must be accepted again within this long, without restarting the app. */
const MAX_RECOVERY_MS = 5_000;

/**
 * Scenario 2: PostgreSQL stopped (fast shutdown, which cuts every session) and started again while
 * hook calls keep coming and subscribers are connected.
 *
 * Proves: every call during the outage is answered 503 with Retry-After within 5 s (none hangs,
 * none is a 500); once PostgreSQL is back the same app process accepts calls again, its LISTEN
 * connection comes back (subscribers opened before the outage receive every event of every
 * deployment, exactly once and in order, and new subscriptions complete), and the dispatcher and
 * the watch catch up: every accepted deployment gets its PipelineRun and finishes.
 */
export async function postgresRestartScenario(run: ChaosRun, options: PostgresRestartOptions): Promise<ScenarioResult> {
  const report = new ScenarioReport('postgres-restart', options.print);
  const name = 's2-postgres';
  const cleanups: Array<() => Promise<void>> = [];
  const subscribers: Subscriber[] = [];
  try {
    await scenarioDir(run, name);
    const databaseUrl = await run.postgres.createDatabase('chaos_pg');
    const cluster = await startCluster(run, name, 'simulate');
    cleanups.push(() => cluster.stop());
    // A cluster that answers in 200 ms, as a busy real one does: the dispatcher's transaction is
    // open across its creates, so the shutdown also reaches connections that are lent out.
    await cluster.faults({ latencyMs: 200 });
    const app = await startAppProcess(run, { name, databaseUrl, kubeconfig: cluster.kubeconfig });
    cleanups.push(() => app.process.kill());
    const { serviceId, hookUrl } = await createHookedService(app, 'pg-target');
    await waitReady(app, 30_000);

    // Subscribers that live through the outage: one over WebSocket, one over SSE.
    const ws = await openWsSubscriptions(app.url, app.adminToken, [{ query: SERVICE_EVENTS, variables: { id: serviceId } }]);
    cleanups.push(async () => ws.close());
    const sse = await openSseSubscription(app.url, app.adminToken, SERVICE_EVENTS, { id: serviceId });
    cleanups.push(async () => sse.close());
    subscribers.push(ws.subscriptions[0]!, sse);
    report.check(sse.status === 200, 'the SSE subscription opened', () => String(sse.status));

    const beforeMs = options.beforeMs ?? 4_000;
    const afterMs = options.afterMs ?? 10_000;
    const load = startLoad(run, name, {
      url: hookUrl,
      durationMs: beforeMs + options.outageMs + afterMs + 1_500,
      concurrency: 4,
      intervalMs: 150,
      tag: 'pg',
      timeoutMs: 15_000,
    });
    cleanups.push(() => load.process.kill());
    await eventually(async () => (load.progress().accepted >= 5 ? true : undefined), 30_000, 'the first accepted calls', 20);
    await sleep(beforeMs);

    const stopRequestedAt = Date.now();
    await run.postgres.stop();
    const stoppedAt = Date.now();
    report.log(`PostgreSQL stopped (${stoppedAt - stopRequestedAt} ms); down for ${options.outageMs} ms`);
    await sleep(options.outageMs);
    const readyDuringOutage = await readiness(app);
    const startRequestedAt = Date.now();
    await run.postgres.start();
    const startedAt = Date.now();
    report.log(`PostgreSQL accepting connections again (${startedAt - startRequestedAt} ms)`);
    // Readiness (LISTEN included) must come back by itself.
    const readyAgain = waitReady(app, 30_000).catch(() => null);
    report.check(readyDuringOutage?.database === 'failing', '/readyz reported the database failing during the outage', () => JSON.stringify(readyDuringOutage));

    const records = await load.finished(60_000);
    if (!report.check(app.process.running(), 'the app process stayed up')) {
      throw new Error(`the app died: ${lastWords(app.process.output())}`);
    }
    analyseAnswers(report, records, { stopRequestedAt, stoppedAt, startRequestedAt, startedAt });

    const readyAgainMs = await readyAgain;
    report.figure('readyAgainMs', readyAgainMs);
    report.check(readyAgainMs !== null, '/readyz is ready again (database and LISTEN) within 30 s of the restart');

    // A subscription opened after the restart gets its deployment's changes through LISTEN and completes.
    const fresh = await fetch(new URL('?branch=chaos/pg-fresh', hookUrl), { method: 'POST' });
    const freshId = fresh.status === 202 ? ((await fresh.json()) as { id: string }).id : null;
    report.check(freshId !== null, 'a call after the restart is accepted', () => String(fresh.status));
    if (freshId) {
      const follower = await openWsSubscriptions(app.url, app.adminToken, [{ query: DEPLOYMENT_EVENTS, variables: { id: freshId } }]);
      cleanups.push(async () => follower.close());
      const end = await Promise.race([follower.subscriptions[0]!.ended, sleep(30_000).then(() => null)]);
      const statuses = follower.subscriptions[0]!.events.map((e) => e.status);
      report.check(end?.how === 'complete' && statuses.at(-1) === 'SUCCEEDED', 'a subscription opened after the restart follows its deployment to SUCCEEDED and completes', () => `${end?.how ?? 'still open after 30 s'}: ${statuses.join(' -> ')}`);
      follower.close();
    }

    // The dispatcher and the watch catch up: every deployment has its run and finishes.
    const settledAt = Date.now();
    const rows = await deploymentsWhenFinished(databaseUrl, serviceId, 90_000, 'every deployment to finish');
    report.figure('settleMs', Date.now() - settledAt);
    const unfinished = rows.filter((r) => !TERMINAL.includes(r.status));
    report.check(unfinished.length === 0, 'every deployment reached a terminal status', () => `${unfinished.length} not, e.g. ${unfinished.slice(0, 3).map((r) => `${r.id} ${r.status}`).join(', ')}`);
    const failed = rows.filter((r) => r.status !== 'SUCCEEDED' && TERMINAL.includes(r.status));
    report.check(failed.length === 0, 'every deployment succeeded', () => failed.slice(0, 5).map((r) => `${r.id} ${r.status} ${r.reason}`).join(', '));
    const runs = await listPipelineRuns(cluster);
    const runNames = new Set(runs.map((r) => r.metadata.name));
    const rowIds = new Set(rows.map((r) => r.id));
    report.figure('rows', rows.length);
    report.figure('runs', runs.length);
    report.check(rows.every((r) => runNames.has(r.id)) && runs.every((r) => rowIds.has(r.metadata.name)), 'exactly one PipelineRun per deployment', () => `${rows.length} rows, ${runs.length} runs`);
    const accepted = records.filter((r) => r.s === 202 && r.id).map((r) => r.id!);
    const lost = accepted.filter((id) => !rowIds.has(id));
    report.check(lost.length === 0, 'every 202 is a deployment row', () => lost.slice(0, 5).join(', '));
    // A 503 whose COMMIT reached the server before the connection was cut: the client was told to retry.
    report.figure('rowsWithout202', rows.filter((r) => !accepted.includes(r.id) && r.id !== freshId).length);

    // Subscribers opened before the outage saw every event of every deployment once, in order.
    const expected = new Map(rows.map((r) => [r.id, r.events.map((e) => `${e.sequence}:${e.status}`).join(' ')]));
    for (const [label, sub] of [['WebSocket', subscribers[0]!], ['SSE', subscribers[1]!]] as const) {
      let mismatched: string[] = [];
      try {
        await eventually(
          async () => {
            const received = byDeployment(sub.events.filter((e) => expected.has(e.deploymentId)));
            mismatched = [...expected].filter(([id, want]) => (received.get(id) ?? []).map((e) => `${e.sequence}:${e.status}`).join(' ') !== want).map(([id, want]) => `${id}: want ${want}, got ${(received.get(id) ?? []).map((e) => `${e.sequence}:${e.status}`).join(' ')}`);
            return mismatched.length === 0 ? true : undefined;
          },
          15_000,
          `the ${label} subscriber to have every event`,
          250,
        );
      } catch {
        // reported below
      }
      report.figure(`${label === 'WebSocket' ? 'ws' : 'sse'}SubscriberEvents`, sub.events.length);
      report.check(!sub.isEnded(), `the ${label} subscription opened before the outage is still open`);
      report.check(mismatched.length === 0, `the ${label} subscriber received every event exactly once, in order`, () => `${mismatched.length} deployments differ, e.g. ${mismatched.slice(0, 3).join('; ')}`);
    }
  } catch (error) {
    report.crashed(error);
  } finally {
    if (!run.postgres.running()) await run.postgres.start().catch((error) => report.crashed(error));
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  }
  return report.result();
}

function analyseAnswers(
  report: ScenarioReport,
  records: LoadRecord[],
  times: { stopRequestedAt: number; stoppedAt: number; startRequestedAt: number; startedAt: number },
): void {
  const { stopRequestedAt, stoppedAt, startRequestedAt, startedAt } = times;
  report.figure('calls', records.length);
  report.figure('accepted202', records.filter((r) => r.s === 202).length);
  report.figure('answered503', records.filter((r) => r.s === 503).length);
  const unexpected = records.filter((r) => r.s !== 202 && r.s !== 503);
  report.check(unexpected.length === 0, 'every call was answered 202 or 503 (no other status, no broken connection, no time-out)', () => summarise(unexpected));

  // Calls that overlapped the outage in any way: each answered, quickly.
  const overlapping = records.filter((r) => r.t0 <= startedAt && r.t1 >= stopRequestedAt);
  const maxLatency = Math.max(0, ...overlapping.map((r) => r.t1 - r.t0));
  report.figure('outageCalls', overlapping.length);
  report.figure('outageMaxLatencyMs', maxLatency);
  report.check(overlapping.length > 0, 'calls were made during the outage');
  report.check(maxLatency <= MAX_OUTAGE_ANSWER_MS, `every call during the outage was answered within ${MAX_OUTAGE_ANSWER_MS} ms`, () => `max ${maxLatency} ms`);
  const noRetryAfter = records.filter((r) => r.s === 503 && !(Number(r.ra) > 0));
  report.check(noRetryAfter.length === 0, 'every 503 carries Retry-After', () => summarise(noRetryAfter));

  // Calls made while it was fully down: all 503.
  const whileDown = records.filter((r) => r.t0 >= stoppedAt && r.t0 <= startRequestedAt);
  const acceptedWhileDown = whileDown.filter((r) => r.s !== 503);
  report.figure('callsWhileDown', whileDown.length);
  report.check(whileDown.length > 0 && acceptedWhileDown.length === 0, 'every call made while PostgreSQL was down got 503', () => `${whileDown.length} calls: ${summarise(acceptedWhileDown)}`);

  // Recovery without a restart: the first 202 after it is back, and nothing but 202s a while later.
  const firstAccepted = records.filter((r) => r.s === 202 && r.t0 >= startedAt).sort((a, b) => a.t1 - b.t1)[0];
  const recoveryMs = firstAccepted ? firstAccepted.t1 - startedAt : null;
  report.figure('recoveryMs', recoveryMs);
  report.check(recoveryMs !== null && recoveryMs <= MAX_RECOVERY_MS, `calls are accepted again within ${MAX_RECOVERY_MS} ms of the restart`, () => String(recoveryMs));
  const late = records.filter((r) => r.t0 >= startedAt + MAX_RECOVERY_MS);
  const lateRefused = late.filter((r) => r.s !== 202);
  report.figure('callsAfterRecovery', late.length);
  report.check(late.length > 0 && lateRefused.length === 0, `every call made ${MAX_RECOVERY_MS} ms after the restart was accepted`, () => `${late.length} calls: ${summarise(lateRefused)}`);
}

function summarise(records: LoadRecord[]): string {
  const counts = new Map<string, number>();
  for (const r of records) counts.set(String(r.s ?? r.e), (counts.get(String(r.s ?? r.e)) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${n}× ${k}`).join(', ') || 'none';
}
