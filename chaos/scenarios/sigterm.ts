import { callOutcomes, FOLLOW_UP_INDEX_BASE, indexOfBranch, SLOW_INDEX_BASE } from '../load-records.js';
import { ScenarioReport, type ScenarioResult } from '../report.js';
import {
  DEPLOYMENT_EVENTS,
  followHook,
  openSseSubscription,
  openWsSubscriptions,
  SERVICE_EVENTS,
  type StreamEnd,
  type Subscriber,
  type WsConnection,
} from '../subscribers.js';
import {
  createHookedService,
  eventually,
  readDeployments,
  scenarioDir,
  sleep,
  startAppProcess,
  startCluster,
  startLoad,
  type ChaosRun,
} from '../stack.js';

export interface SigtermOptions {
  /** Calls whose body is still arriving when SIGTERM is sent. */
  slowCalls?: number;
  wsConnections?: number;
  sseStreams?: number;
  print?: (line: string) => void;
}

/** The app drains within its 10 s drain limit; this leaves room for the rest of the shutdown. */
const MAX_EXIT_MS = 15_000;
/** Calls started this long after SIGTERM are new work, not work in flight. */
const GRACE_MS = 1_000;
const TAG = 'term';

/** The checks that a drain which keeps serving kept-alive connections fails. */
const DRAIN_CHECKS = {
  stoppedAccepting: 'the server stopped taking calls at SIGTERM, on connections it kept alive too',
  nothingUnannounced: 'every deployment the load created was answered 202 to its client',
} as const;

/**
 * Scenario 4: SIGTERM while hook calls are in flight (some with their bodies still arriving) and
 * subscribers are connected over graphql-ws, GraphQL SSE and the hook route's follow mode.
 *
 * Proves the drain of DESIGN.md section 2: calls in flight complete with their 202; nothing is
 * committed whose 202 did not reach its client; every graphql-ws client gets a close frame with
 * 1001 (going away) rather than a silent hang; every SSE stream ends; and the process exits 0 in a
 * bounded time.
 */
export async function sigtermScenario(run: ChaosRun, options: SigtermOptions): Promise<ScenarioResult> {
  const report = new ScenarioReport('sigterm', options.print);
  const name = 's4-sigterm';
  const cleanups: Array<() => Promise<void>> = [];
  try {
    await scenarioDir(run, name);
    const databaseUrl = await run.postgres.createDatabase('chaos_term');
    // No simulated Tekton: deployments stay QUEUED, so every subscription is still open at SIGTERM.
    const cluster = await startCluster(run, name, 'off');
    cleanups.push(() => cluster.stop());
    const app = await startAppProcess(run, { name, databaseUrl, kubeconfig: cluster.kubeconfig });
    cleanups.push(() => app.process.kill());
    const { serviceId, hookUrl } = await createHookedService(app, 'term-target');

    const followed: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await fetch(new URL(`?branch=chaos/${TAG}-setup-${i}`, hookUrl), { method: 'POST' });
      followed.push(((await res.json()) as { id: string }).id);
    }

    // Subscribers, each established (its first event received) before the signal.
    const wsConnections: WsConnection[] = [];
    for (let i = 0; i < (options.wsConnections ?? 4); i++) {
      const connection = await openWsSubscriptions(app.url, app.adminToken, [
        { query: DEPLOYMENT_EVENTS, variables: { id: followed[i % followed.length] } },
        { query: SERVICE_EVENTS, variables: { id: serviceId } },
      ]);
      cleanups.push(async () => connection.close());
      wsConnections.push(connection);
    }
    const sseStreams: Array<Subscriber & { status: number }> = [];
    for (let i = 0; i < (options.sseStreams ?? 2); i++) {
      const graphqlSse = await openSseSubscription(app.url, app.adminToken, i % 2 ? SERVICE_EVENTS : DEPLOYMENT_EVENTS, i % 2 ? { id: serviceId } : { id: followed[0] });
      const follow = await followHook(hookUrl, `chaos/${TAG}-follow-${i}`);
      cleanups.push(async () => (graphqlSse.close(), follow.close()));
      sseStreams.push(graphqlSse, follow);
    }
    const subscriptions = [...wsConnections.flatMap((c) => c.subscriptions), ...sseStreams];
    await eventually(async () => (subscriptions.every((s) => s.events.length > 0) ? true : undefined), 15_000, 'every subscriber to get its first event', 50);
    report.figure('wsConnections', wsConnections.length);
    report.figure('wsSubscriptions', wsConnections.length * 2);
    report.figure('sseStreams', sseStreams.length);

    const slowCalls = options.slowCalls ?? 8;
    const load = startLoad(run, name, {
      url: hookUrl,
      durationMs: 60_000,
      concurrency: 8,
      tag: TAG,
      timeoutMs: 20_000,
      slow: { count: slowCalls, bodyMs: 2_000 },
    });
    cleanups.push(() => load.process.kill());
    await load.process.waitFor(/slow-started/, 20_000);
    await eventually(async () => (load.progress().accepted >= 30 ? true : undefined), 20_000, 'the load to be under way', 20);
    await sleep(200);

    const signalledAt = Date.now();
    app.process.child.kill('SIGTERM');
    report.log(`SIGTERM with ${slowCalls} slow calls in flight, ${load.progress().accepted} accepted so far`);
    const exit = await Promise.race([app.process.exited, sleep(30_000).then(() => null)]);
    const exitMs = exit ? exit.at - signalledAt : null;
    report.figure('exitMs', exitMs);
    report.figure('exitCode', exit ? exit.code : null);
    report.check(exit !== null && exit.code === 0, 'the process exited 0', () => (exit ? `code ${exit.code}, signal ${exit.signal}` : 'still running after 30 s'));
    report.check(exitMs !== null && exitMs <= MAX_EXIT_MS, `it exited within ${MAX_EXIT_MS} ms of SIGTERM`, () => String(exitMs));
    load.stop();
    const records = await load.finished(30_000);

    // Calls in flight: the slow ones were sending their bodies when the signal came; they must complete.
    const outcomes = callOutcomes(records);
    const slow = [...outcomes.values()].filter((c) => c.index >= SLOW_INDEX_BASE && c.index < FOLLOW_UP_INDEX_BASE);
    const slowAccepted = slow.filter((c) => c.final.s === 202 && c.final.t1 > signalledAt);
    report.figure('slowInFlight', slow.length);
    report.figure('slowAccepted', slowAccepted.length);
    report.check(slow.length === slowCalls && slowAccepted.length === slowCalls, 'every call in flight at SIGTERM completed with its 202', () => slow.filter((c) => c.final.s !== 202).map((c) => `#${c.index}: ${c.final.s ?? c.final.e}`).join(', ') || `${slowAccepted.length} of ${slowCalls}`);

    const fast = [...outcomes.values()].filter((c) => c.index < SLOW_INDEX_BASE);
    const before = fast.filter((c) => c.final.t0 < signalledAt);
    const after = fast.filter((c) => c.final.t0 >= signalledAt);
    report.figure('callsBeforeSignal', before.length);
    report.figure('acceptedBeforeSignal', before.filter((c) => c.final.s === 202).length);
    report.figure('answeredAfterSignal', records.filter((r) => r.s === 202 && r.t1 >= signalledAt).length);
    // A request written to a keep-alive connection the server was closing as idle never reached the app.
    report.figure('cutAtClose', before.filter((c) => c.final.s === null).length);
    report.figure('callsAfterSignal', after.length);
    // New calls after SIGTERM must not be served: not on new connections, and not on kept-alive ones.
    // Each slow call's connection carries one more call the moment its 202 arrives (after SIGTERM).
    const followUps = [...outcomes.values()].filter((c) => c.index >= FOLLOW_UP_INDEX_BASE);
    const followUpsServed = followUps.filter((c) => c.final.s === 202);
    const lateServed = after.filter((c) => c.final.t0 >= signalledAt + GRACE_MS && c.final.s === 202);
    report.figure('followUpsServed', followUpsServed.length);
    report.figure('servedLateAfterSignal', lateServed.length);
    report.check(
      followUps.length === slowCalls && followUpsServed.length === 0 && lateServed.length === 0,
      DRAIN_CHECKS.stoppedAccepting,
      () => `${followUpsServed.length} of ${followUps.length} calls following a slow call on its connection were served, and ${lateServed.length} calls started over ${GRACE_MS} ms after SIGTERM`,
    );
    // A refusal after SIGTERM (503 with Retry-After, so a load balancer retries elsewhere) is fine.
    const refusedWhileDraining = (c: (typeof fast)[number]) => c.final.s === 503 && Number(c.final.ra) > 0 && c.final.t1 >= signalledAt;
    const otherStatus = [...outcomes.values()].filter((c) => c.final.s !== null && c.final.s !== 202 && !refusedWhileDraining(c));
    report.figure('refusedWhileDraining', [...outcomes.values()].filter(refusedWhileDraining).length);
    report.check(otherStatus.length === 0, 'every call was answered 202, or refused with 503 and Retry-After once draining', () => otherStatus.slice(0, 5).map((c) => `#${c.index}: ${c.final.s}`).join(', '));

    // Nothing committed whose 202 was lost on the way out.
    const accepted = new Set(records.filter((r) => r.s === 202 && r.id).map((r) => r.id!));
    const rows = (await readDeployments(databaseUrl, serviceId)).filter((r) => indexOfBranch(TAG, r.branch) !== null);
    const unannounced = rows.filter((r) => !accepted.has(r.id));
    report.figure('rows', rows.length);
    report.check(unannounced.length === 0, DRAIN_CHECKS.nothingUnannounced, () => unannounced.slice(0, 5).map((r) => `${r.id} (${r.branch})`).join(', '));
    const lost = [...accepted].filter((id) => !rows.some((r) => r.id === id));
    report.check(lost.length === 0, 'every 202 is a deployment row', () => lost.slice(0, 5).join(', '));

    // Subscribers were told, not left hanging.
    const settle = (p: Promise<StreamEnd>) => Promise.race([p, sleep(Math.max(0, signalledAt + MAX_EXIT_MS - Date.now())).then(() => null)]);
    const wsEnds = await Promise.all(wsConnections.map((c) => settle(c.closed)));
    const goingAway = wsEnds.filter((e) => e?.code === 1001);
    report.figure('wsClosed1001', goingAway.length);
    report.figure('wsCloseMs', Math.max(0, ...wsEnds.map((e) => (e ? e.at - signalledAt : -1))));
    report.check(goingAway.length === wsConnections.length, 'every graphql-ws client got close code 1001', () => wsEnds.map((e) => (e ? `${e.how} ${e.code ?? ''}` : 'open')).join(', '));
    const wsSubscriptionEnds = await Promise.all(wsConnections.flatMap((c) => c.subscriptions.map((s) => settle(s.ended))));
    report.figure('wsSubscriptionsCompleted', wsSubscriptionEnds.filter((e) => e?.how === 'complete').length);
    report.check(wsSubscriptionEnds.every((e) => e !== null && e.how !== 'error'), 'every graphql-ws subscription ended (completed or closed), none failed or hung', () => wsSubscriptionEnds.map((e) => e?.how ?? 'open').join(', '));
    const sseEnds = await Promise.all(sseStreams.map((s) => settle(s.ended)));
    report.figure('sseEnded', sseEnds.filter((e) => e !== null && e.how !== 'error').length);
    report.figure('sseCompleted', sseEnds.filter((e) => e?.how === 'complete').length);
    report.figure('sseEndMs', Math.max(0, ...sseEnds.map((e) => (e ? e.at - signalledAt : -1))));
    report.check(sseEnds.every((e) => e !== null && e.how !== 'error'), 'every SSE stream ended cleanly', () => sseEnds.map((e) => (e ? `${e.how}${e.detail ? ` (${e.detail})` : ''}` : 'open')).join(', '));
  } catch (error) {
    report.crashed(error);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  }
  return report.result();
}
