import { callOutcomes, indexOfBranch, possiblyDelivered, type LoadRecord } from '../load-records.js';
import { ScenarioReport, type ScenarioResult } from '../report.js';
import {
  createHookedService,
  eventually,
  listPipelineRuns,
  readDeployments,
  scenarioDir,
  startAppProcess,
  startCluster,
  startLoad,
  type AppProcess,
  type ChaosRun,
} from '../stack.js';

export interface KillAppOptions {
  /** Hook calls in all (2,000 in the full suite). */
  calls: number;
  concurrency?: number;
  /** The app is killed once the client has this many 202s (default: a third of the calls). */
  killAfterAccepted?: number;
  print?: (line: string) => void;
}

const TAG = 'kill';

/**
 * Scenario 1: `kill -9` of the app in the middle of a burst of hook calls, then a restart.
 *
 * Proves the outbox promise of DESIGN.md section 3: every 202 a client received is exactly one
 * deployment row and exactly one PipelineRun, even when the process dies right after answering;
 * and nothing is created that no client was told about, except for calls whose connection broke
 * (the client cannot know whether those committed). Each call names its own branch, so every row
 * and every run is traced back to the one call that made it.
 */
export async function killAppScenario(run: ChaosRun, options: KillAppOptions): Promise<ScenarioResult> {
  const report = new ScenarioReport('kill-9', options.print);
  const name = 's1-kill';
  const cleanups: Array<() => Promise<void>> = [];
  try {
    await scenarioDir(run, name);
    const databaseUrl = await run.postgres.createDatabase('chaos_kill');
    const cluster = await startCluster(run, name, 'off');
    cleanups.push(() => cluster.stop());
    let app: AppProcess = await startAppProcess(run, { name, databaseUrl, kubeconfig: cluster.kubeconfig });
    cleanups.push(() => app.process.kill());
    const { serviceId, hookUrl } = await createHookedService(app, 'kill-target');
    report.log(`app ${app.url} (pid ${app.process.pid}), cluster ${cluster.url}; ${options.calls} calls`);

    const load = startLoad(run, name, {
      url: hookUrl,
      count: options.calls,
      concurrency: options.concurrency ?? 16,
      tag: TAG,
      // Only calls that provably never arrived (refused) or were refused by a starting app (503) are repeated.
      retry: { refused: true, unavailable: true, maxAttempts: 400, delayMs: 100 },
      timeoutMs: 20_000,
    });
    cleanups.push(() => load.process.kill());
    const loadStartedAt = Date.now();

    const killAt = options.killAfterAccepted ?? Math.floor(options.calls / 3);
    await eventually(async () => (load.progress().accepted >= killAt ? true : undefined), 60_000, `${killAt} accepted calls`, 5);
    app.process.child.kill('SIGKILL');
    const killedAt = Date.now();
    await app.process.exited;
    report.figure('acceptedBeforeKill', load.progress().accepted);
    report.log(`killed the app (SIGKILL) after ${load.progress().accepted} 202s`);

    app = await app.restart();
    report.figure('restartMs', Date.now() - killedAt);
    report.log(`restarted (pid ${app.process.pid}) ${Date.now() - killedAt} ms after the kill`);

    const records = await load.finished(180_000);
    report.figure('loadSeconds', Math.round((Date.now() - loadStartedAt) / 100) / 10);
    const finishedAt = Date.now();

    // The dispatcher must turn every row into a run; wait (bounded) until it has.
    let settled = true;
    try {
      await eventually(
        async () => {
          const [rows, runs] = await Promise.all([readDeployments(databaseUrl, serviceId), listPipelineRuns(cluster)]);
          const names = new Set(runs.map((r) => r.metadata.name));
          return rows.every((r) => r.dispatched_at !== null && names.has(r.id)) ? true : undefined;
        },
        120_000,
        'every deployment to have its PipelineRun',
        500,
      );
    } catch {
      settled = false;
    }
    report.figure('dispatchSettleMs', Date.now() - finishedAt);
    report.check(settled, 'every deployment got its PipelineRun within 120 s');

    const rows = await readDeployments(databaseUrl, serviceId);
    const runs = await listPipelineRuns(cluster);
    analyse(report, options.calls, records, rows, runs);
  } catch (error) {
    report.crashed(error);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  }
  return report.result();
}

function analyse(
  report: ScenarioReport,
  calls: number,
  records: LoadRecord[],
  rows: Awaited<ReturnType<typeof readDeployments>>,
  runs: Awaited<ReturnType<typeof listPipelineRuns>>,
): void {
  const outcomes = callOutcomes(records);
  const accepted = new Map<number, string>();
  const inDoubt = new Set<number>();
  const unresolved: string[] = [];
  for (const call of outcomes.values()) {
    if (call.final.s === 202 && call.final.id) accepted.set(call.index, call.final.id);
    else if (possiblyDelivered(call.final)) inDoubt.add(call.index);
    else unresolved.push(`#${call.index}: ${call.final.s ?? call.final.e} after ${call.attempts.length} attempt(s)`);
  }
  const attempts = records.length;
  report.figure('calls', calls);
  report.figure('accepted202', accepted.size);
  report.figure('inDoubt', inDoubt.size);
  report.figure('refusedRetries', records.filter((r) => r.e === 'ECONNREFUSED').length);
  report.figure('unavailableRetries', records.filter((r) => r.s === 503).length);
  report.figure('attempts', attempts);
  report.check(outcomes.size === calls, 'the client made every call', () => `${outcomes.size} of ${calls}`);
  report.check(unresolved.length === 0, 'every call ended in a 202 or a broken connection', () => unresolved.slice(0, 10).join('; '));

  const acceptedIds = new Set(accepted.values());
  report.check(acceptedIds.size === accepted.size, 'no two 202s carried the same deployment id');
  const rowById = new Map(rows.map((r) => [r.id, r]));
  const rowsByCall = new Map<number, string[]>();
  const untraceable: string[] = [];
  for (const row of rows) {
    const index = indexOfBranch(TAG, row.branch);
    if (index === null) {
      untraceable.push(`${row.id} (${row.branch})`);
      continue;
    }
    rowsByCall.set(index, [...(rowsByCall.get(index) ?? []), row.id]);
  }
  report.figure('rows', rows.length);
  report.check(untraceable.length === 0, 'every row comes from a call of the load process', () => untraceable.slice(0, 5).join(', '));

  const lost = [...accepted].filter(([, id]) => !rowById.has(id));
  report.figure('lost202s', lost.length);
  report.check(lost.length === 0, 'every 202 is a deployment row', () => lost.slice(0, 5).map(([i, id]) => `#${i} ${id}`).join(', '));
  const misattributed = [...accepted].filter(([i, id]) => rowById.has(id) && indexOfBranch(TAG, rowById.get(id)!.branch) !== i);
  report.check(misattributed.length === 0, 'each 202 id is the row of that very call', () => misattributed.slice(0, 5).map(([i, id]) => `#${i} ${id}`).join(', '));
  const duplicated = [...rowsByCall].filter(([, ids]) => ids.length > 1);
  report.figure('duplicateRows', duplicated.length);
  report.check(duplicated.length === 0, 'no call made two rows', () => duplicated.slice(0, 5).map(([i, ids]) => `#${i}: ${ids.join(', ')}`).join('; '));

  const unannounced = rows.filter((r) => !acceptedIds.has(r.id));
  const unexplained = unannounced.filter((r) => {
    const index = indexOfBranch(TAG, r.branch);
    return index === null || !inDoubt.has(index);
  });
  report.figure('inDoubtCommitted', unannounced.length - unexplained.length);
  report.check(
    unexplained.length === 0,
    'no row exists that no client got a 202 for, unless that call saw its connection break',
    () => unexplained.slice(0, 5).map((r) => `${r.id} (${r.branch})`).join(', '),
  );

  const runNames = runs.map((r) => r.metadata.name);
  const runSet = new Set(runNames);
  report.figure('runs', runs.length);
  report.check(runSet.size === runNames.length, 'PipelineRun names are unique');
  const withoutRun = rows.filter((r) => !runSet.has(r.id));
  report.check(withoutRun.length === 0, 'every deployment row has its PipelineRun', () => `${withoutRun.length} without, e.g. ${withoutRun.slice(0, 3).map((r) => r.id).join(', ')}`);
  const orphans = runs.filter((r) => !rowById.has(r.metadata.name));
  report.check(orphans.length === 0, 'every PipelineRun belongs to a deployment row', () => orphans.slice(0, 5).map((r) => r.metadata.name).join(', '));
  const mislabelled = runs.filter((r) => r.spec?.params?.find((p) => p.name === 'deployment-id')?.value !== r.metadata.name);
  report.check(mislabelled.length === 0, 'each PipelineRun is for the deployment it is named after', () => mislabelled.slice(0, 5).map((r) => r.metadata.name).join(', '));
  const acceptedWithRun = [...acceptedIds].filter((id) => runSet.has(id)).length;
  report.check(acceptedWithRun === acceptedIds.size, 'every 202 has exactly one PipelineRun', () => `${acceptedWithRun} of ${acceptedIds.size}`);
}
