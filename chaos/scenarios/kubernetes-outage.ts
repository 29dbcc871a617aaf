import { ScenarioReport, type ScenarioResult } from '../report.js';
import {
  createHookedService,
  deploymentsWhenFinished,
  eventually,
  historyProblem,
  listPipelineRuns,
  metric,
  readDeployments,
  readiness,
  scenarioDir,
  sleep,
  startAppProcess,
  startCluster,
  startLoad,
  terminalStatusOf,
  TERMINAL,
  waitReady,
  type ChaosRun,
} from '../stack.js';

const WATCH_RESTARTS = 'stackblaze_watch_restarts_total';

export interface KubernetesOutageOptions {
  /** How long the Kubernetes API answers every request with 503. */
  outageMs: number;
  /** How long the watch stays stalled before the fault is cleared (the app's own watch stays silent until its watchdog acts). */
  stallMs?: number;
  print?: (line: string) => void;
}

/**
 * Scenario 3: the Kubernetes API unavailable (every request 503, watches dropped), then, once the app
 * has recovered, its watch dropped several times, answered 410 Expired, and stalled (connected but
 * silent), while builds run (the cluster's simulated Tekton, one step every 1.5 s) and hook calls
 * keep coming.
 *
 * Proves: no status transition is lost or repeated (every deployment's events are numbered 1..n and
 * only move forward), every deployment reaches the terminal status its PipelineRun reached, and
 * each has exactly one PipelineRun. With the production watchdog (45 s of silence) the stall costs
 * about that long; the figures say how long each recovery took.
 */
export async function kubernetesOutageScenario(run: ChaosRun, options: KubernetesOutageOptions): Promise<ScenarioResult> {
  const report = new ScenarioReport('kubernetes-outage', options.print);
  const name = 's3-kubernetes';
  const cleanups: Array<() => Promise<void>> = [];
  try {
    await scenarioDir(run, name);
    const databaseUrl = await run.postgres.createDatabase('chaos_k8s');
    const cluster = await startCluster(run, name, 'simulate');
    cleanups.push(() => cluster.stop());
    const app = await startAppProcess(run, { name, databaseUrl, kubeconfig: cluster.kubeconfig });
    cleanups.push(() => app.process.kill());
    const { serviceId, hookUrl } = await createHookedService(app, 'k8s-target');
    await waitReady(app, 30_000);

    const load = startLoad(run, name, {
      url: hookUrl,
      durationMs: 8 * 60_000,
      concurrency: 2,
      intervalMs: 500,
      tag: 'k8s',
      // One build in five fails, so a FAILED end must be carried through as well as a SUCCEEDED one.
      failEvery: 5,
      timeoutMs: 15_000,
    });
    cleanups.push(() => load.process.kill());
    await eventually(async () => (load.progress().accepted >= 6 ? true : undefined), 30_000, 'the first accepted calls', 50);

    // 1. The API down.
    const restartsBefore = await metric(app, WATCH_RESTARTS);
    const outageStartedAt = Date.now();
    await cluster.faults({ unavailable: true });
    report.log(`Kubernetes API unavailable for ${options.outageMs} ms`);
    // Once the app has noticed, /readyz must say so for as long as the outage lasts, not now and then.
    await sleep(3_000);
    const samples: string[] = [];
    while (Date.now() < outageStartedAt + options.outageMs - 1_000 && samples.length < 200) {
      samples.push((await readiness(app))?.pipelineRunWatch ?? 'no answer');
      await sleep(250);
    }
    const saidReady = samples.filter((s) => s !== 'failing').length;
    report.figure('readinessSamplesDuringOutage', samples.length);
    report.figure('readySamplesDuringOutage', saidReady);
    report.check(samples.length > 0 && saidReady === 0, '/readyz reported the watch failing throughout the outage', () => `${saidReady} of ${samples.length} samples said otherwise`);
    const restartsDuring = await metric(app, WATCH_RESTARTS);
    const watchRetries = restartsBefore === null || restartsDuring === null ? null : restartsDuring - restartsBefore;
    report.figure('watchRestartsDuringOutage', watchRetries);
    // Backoff from 0.2 s doubling to 30 s allows about 8 attempts in 30 s; a fixed 0.2 s retry makes 150.
    const allowed = Math.ceil(options.outageMs / 2_000);
    report.check(watchRetries !== null && watchRetries >= 1 && watchRetries <= allowed, `the watch retried with backoff during the outage (1 to ${allowed} restarts, from ${WATCH_RESTARTS})`, () => String(watchRetries));
    const undispatched = (await readDeployments(databaseUrl, serviceId)).filter((r) => r.dispatched_at === null).length;
    report.figure('queuedDuringOutage', undispatched);
    report.check(undispatched > 0, 'calls during the outage were accepted and queued');
    await sleep(Math.max(0, outageStartedAt + options.outageMs - Date.now()));
    await cluster.faults({ clear: true });
    const outageEndedAt = Date.now();

    const watchBackMs = await waitReady(app, 60_000).catch(() => null);
    report.figure('watchRecoveryMs', watchBackMs);
    report.check(watchBackMs !== null, 'the watch was synced again within 60 s of the API coming back');
    // The dispatcher works through its backlog (each row on its own backoff) while the watch faults go on.
    const backlogDispatched = eventually(
      async () => {
        const rows = await readDeployments(databaseUrl, serviceId);
        return rows.every((r) => r.dispatched_at !== null || r.created_at.getTime() > outageEndedAt) ? Date.now() - outageEndedAt : undefined;
      },
      60_000,
      'the backlog to be dispatched',
      250,
    ).catch(() => null);

    // 2. Watches dropped (clean end of the stream) while runs progress.
    for (let i = 0; i < 3; i++) {
      await cluster.faults({ dropWatches: true });
      await sleep(1_000);
    }
    await waitReady(app, 30_000);
    // 3. Every watch answered 410 Expired, history forgotten: the app must relist.
    await cluster.faults({ expireWatches: true });
    report.log('watches dropped three times, then expired (410)');
    await sleep(1_500);
    const relisted = await waitReady(app, 30_000).catch(() => null);
    report.check(relisted !== null, 'the watch was synced again after 410 Expired');
    await sleep(1_500);

    // 4. Stalled: connected but silent. Only the app's watchdog can notice.
    const stallStartedAt = Date.now();
    await cluster.faults({ stallWatches: true });
    report.log(`watches stalled for ${options.stallMs ?? 3_000} ms; runs keep progressing`);
    await sleep(options.stallMs ?? 3_000);
    await cluster.faults({ clear: true });
    // Builds started during the stall finish while the app still listens to its silent watch.
    await sleep(6_000);
    load.stop();
    const records = await load.finished(30_000);
    const dispatchRecoveryMs = await backlogDispatched;
    report.figure('dispatchRecoveryMs', dispatchRecoveryMs);
    report.check(dispatchRecoveryMs !== null, 'the deployments queued during the outage got their PipelineRuns within 60 s of its end');
    const accepted = records.filter((r) => r.s === 202 && r.id).map((r) => r.id!);
    report.figure('calls', records.length);
    report.figure('accepted202', accepted.length);
    const refused = records.filter((r) => r.s !== 202);
    report.check(refused.length === 0, 'every hook call was accepted, outage or not', () => `${refused.length} not, e.g. ${refused.slice(0, 3).map((r) => r.s ?? r.e).join(', ')}`);

    // Everything must end where its PipelineRun ended, once the watchdog has restarted the silent watch.
    const rows = await deploymentsWhenFinished(databaseUrl, serviceId, 150_000, 'every deployment to reach a terminal status', true);
    report.figure('stallRecoveryMs', Date.now() - stallStartedAt);
    const runs = await listPipelineRuns(cluster);
    const runByName = new Map(runs.map((r) => [r.metadata.name, r]));
    const rowIds = new Set(rows.map((r) => r.id));

    report.figure('deployments', rows.length);
    report.figure('runs', runs.length);
    report.figure('succeeded', rows.filter((r) => r.status === 'SUCCEEDED').length);
    report.figure('failed', rows.filter((r) => r.status === 'FAILED').length);
    report.figure('sawRunning', rows.filter((r) => r.events.some((e) => e.status === 'RUNNING')).length);
    report.figure('events', rows.reduce((n, r) => n + r.events.length, 0));

    const lost = accepted.filter((id) => !rowIds.has(id));
    report.check(lost.length === 0, 'every 202 is a deployment row', () => lost.slice(0, 5).join(', '));
    const unfinished = rows.filter((r) => !TERMINAL.includes(r.status));
    report.check(unfinished.length === 0, 'every deployment reached a terminal status', () => `${unfinished.length} not, e.g. ${unfinished.slice(0, 3).map((r) => `${r.id} ${r.status}`).join(', ')}`);
    const badHistory = rows.map(historyProblem).filter((p): p is string => p !== null);
    report.check(badHistory.length === 0, 'every history is 1..n, forward only, nothing repeated', () => badHistory.slice(0, 5).join('; '));
    const wrongEnd = rows.filter((r) => {
      const runEnd = runByName.get(r.id) && terminalStatusOf(runByName.get(r.id)!);
      const intended = r.branch === 'simulate/fail' ? 'FAILED' : 'SUCCEEDED';
      return r.status !== runEnd || r.status !== intended;
    });
    report.check(wrongEnd.length === 0, 'every deployment ended as its PipelineRun did (FAILED for the failing builds, SUCCEEDED otherwise)', () =>
      wrongEnd.slice(0, 5).map((r) => `${r.id} ${r.branch}: ${r.status} ${r.reason ?? ''} vs run ${runByName.get(r.id) ? terminalStatusOf(runByName.get(r.id)!) : 'missing'}`).join('; '),
    );
    const withoutRun = rows.filter((r) => !runByName.has(r.id));
    const orphans = runs.filter((r) => !rowIds.has(r.metadata.name));
    report.check(withoutRun.length === 0 && orphans.length === 0 && runByName.size === runs.length, 'exactly one PipelineRun per deployment', () => `${withoutRun.length} rows without a run, ${orphans.length} runs without a row`);
  } catch (error) {
    report.crashed(error);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  }
  return report.result();
}
