/**
 * `npm run bench [-- --quick] [-- --profile=DIR] [-- --only=hook,unauthorized,query,fanout,leak,informer]`
 *
 * Starts one embedded PostgreSQL and one local cluster (Tekton off), then runs each scenario
 * against the app in a child process of its own (bench/app-process.ts), with this process as
 * the load generator, and each baseline in a child process too. Prints a summary per scenario
 * and, as the last line, one JSON object with every figure, its baseline and the ratio.
 */
import os from 'node:os';
import path from 'node:path';
import { BenchEnvironment } from './lib/env.js';
import { ratio, round } from './lib/stats.js';
import { fanout, type FanoutRun } from './scenarios/fanout.js';
import { deploymentsQuery, hookThroughput, unauthorized, type HttpComparison } from './scenarios/http-scenarios.js';
import { informerStartup } from './scenarios/informer.js';
import { leakCheck } from './scenarios/leak.js';
import { pubsubMicro } from './scenarios/pubsub-micro.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const profileArg = args.find((a) => a.startsWith('--profile'));
const profileDir = profileArg ? path.resolve(profileArg.split('=')[1] ?? 'bench-profiles') : null;
const logLevel = args.find((a) => a.startsWith('--log-level='))?.slice('--log-level='.length) ?? 'info';
const onlyArg = args.find((a) => a.startsWith('--only='));
const only = onlyArg ? new Set(onlyArg.slice('--only='.length).split(',')) : null;

/** `--fanout=1000,10000`, `--leak=N`, `--informer=N` override the counts of the mode. */
function countsArg(name: string): number[] | null {
  const arg = args.find((a) => a.startsWith(`--${name}=`));
  return arg ? arg.slice(name.length + 3).split(',').map(Number) : null;
}
const sizes = {
  fanout: countsArg('fanout') ?? (quick ? [1_000, 2_000] : [1_000, 10_000]),
  leakCycles: countsArg('leak')?.[0] ?? (quick ? 1_500 : 10_000),
  informerRuns: countsArg('informer')?.[0] ?? (quick ? 2_000 : 10_000),
};

const startedAt = Date.now();
const report: Record<string, unknown> = {
  mode: quick ? 'quick' : 'full',
  date: new Date().toISOString(),
  machine: { cores: os.availableParallelism(), node: process.version, memoryGiB: round(os.totalmem() / 1024 ** 3) },
  processes: 'load generator = this process; app, local cluster and every baseline = separate child processes',
  appLogLevel: logLevel,
};

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function httpSummary(name: string, c: HttpComparison): void {
  log(`  ${name}: app ${c.app.requestsPerSecond} req/s (p50 ${c.app.p50Ms} ms, p99 ${c.app.p99Ms} ms, unexpected ${c.app.unexpected})`);
  log(`  ${' '.repeat(name.length)}  baseline ${c.baseline.requestsPerSecond} req/s (p50 ${c.baseline.p50Ms} ms, p99 ${c.baseline.p99Ms} ms)`);
  log(`  ${' '.repeat(name.length)}  throughput ratio ${c.throughputRatio}, p99 ratio ${c.p99Ratio}`);
  const cpu = (f: Record<string, number>) => Object.entries(f).map(([k, v]) => `${k} ${v}`).join(', ');
  log(`  CPU µs per request: app side: ${cpu(c.app.cpuMicrosPerRequest)}`);
  log(`                      baseline side: ${cpu(c.baseline.cpuMicrosPerRequest)}`);
}

function httpFigures(c: HttpComparison, goal: { throughputRatio: number; p99Ratio?: number }) {
  return {
    rps: c.app.requestsPerSecond,
    baselineRps: c.baseline.requestsPerSecond,
    throughputRatio: c.throughputRatio,
    p50Ms: c.app.p50Ms,
    baselineP50Ms: c.baseline.p50Ms,
    p99Ms: c.app.p99Ms,
    baselineP99Ms: c.baseline.p99Ms,
    p99Ratio: c.p99Ratio,
    unexpectedResponses: c.app.unexpected,
    cpuMicrosPerRequest: c.app.cpuMicrosPerRequest,
    baselineCpuMicrosPerRequest: c.baseline.cpuMicrosPerRequest,
    goal: goal.p99Ratio ? `throughput ratio >= ${goal.throughputRatio}, p99 ratio <= ${goal.p99Ratio}` : `throughput ratio >= ${goal.throughputRatio}`,
    met: c.throughputRatio >= goal.throughputRatio && (goal.p99Ratio === undefined || c.p99Ratio <= goal.p99Ratio),
  };
}

function fanoutFigures(app: FanoutRun, baseline: FanoutRun | undefined, p99GoalMs: number) {
  return {
    subscribers: app.subscribers,
    connected: app.connected,
    failedToConnect: app.failedToConnect,
    missing: app.missing,
    rampSeconds: app.rampSeconds,
    p50Ms: app.delayMs.p50,
    p99Ms: app.delayMs.p99,
    maxMs: app.delayMs.max,
    baselineP50Ms: baseline?.delayMs.p50,
    baselineP99Ms: baseline?.delayMs.p99,
    baselineMaxMs: baseline?.delayMs.max,
    p99Ratio: baseline ? ratio(app.delayMs.p99, baseline.delayMs.p99) : null,
    rssPerConnectionKB: app.rssPerConnectionKB,
    heapPerConnectionKB: app.heapPerConnectionKB,
    baselineRssPerConnectionKB: baseline?.rssPerConnectionKB,
    baselineHeapPerConnectionKB: baseline?.heapPerConnectionKB,
    rssPerConnectionRatio: baseline ? ratio(app.rssPerConnectionKB, baseline.rssPerConnectionKB) : null,
    deliverCpuMicrosPerSubscriber: app.deliverCpuMicros,
    baselineDeliverCpuMicrosPerSubscriber: baseline?.deliverCpuMicros,
    deliverCpuRatio: baseline ? ratio(app.deliverCpuMicros, baseline.deliverCpuMicros) : null,
    subscribeCpuMicrosPerSubscriber: app.subscribeCpuMicros,
    baselineConnectCpuMicrosPerSubscriber: baseline?.subscribeCpuMicros,
    goal: `p99 < ${p99GoalMs} ms, memory < 50 KB per connection`,
    met: app.missing === 0 && app.failedToConnect === 0 && app.delayMs.p99 < p99GoalMs && app.rssPerConnectionKB < 50,
  };
}

async function scenario(name: string, title: string, run: () => Promise<void>): Promise<void> {
  if (only && !only.has(name)) return;
  const started = Date.now();
  log(`\n== ${title}`);
  try {
    await run();
  } catch (error) {
    report[name] = { error: error instanceof Error ? error.message : String(error) };
    log(`  FAILED: ${error instanceof Error ? error.stack : String(error)}`);
  }
  log(`  (${round((Date.now() - started) / 1000)} s)`);
}

const env = new BenchEnvironment({ quick, profileDir, logLevel });
try {
  log(`StackBlaze benchmark, ${quick ? 'quick' : 'full'} run, ${os.availableParallelism()} cores, Node ${process.version}`);
  await env.start();

  await scenario('hook', 'Hook POST throughput (autocannon, 50 connections, alternating rounds) vs bare node:http + one INSERT', async () => {
    const r = await hookThroughput(env);
    httpSummary('hook', r);
    log(`  statements per hook call: ${r.statements.inRequest} before the 202, ${r.statements.background} afterwards (dispatcher, watch)`);
    for (const [sql, n] of Object.entries(r.statements.byStatement)) log(`    ${String(n).padStart(5)}  ${sql.slice(0, 110)}`);
    log(`  dispatch backlog after an app round: up to ${r.dispatchBacklogAtEnd} deployments, cleared in up to ${r.dispatchCatchUpMs} ms`);
    report.hook = {
      ...httpFigures(r, { throughputRatio: 0.7, p99Ratio: 2 }),
      statementsBefore202: r.statements.inRequest,
      statementsAfterwards: r.statements.background,
      baselineStatements: 1,
      dispatchBacklogAtEnd: r.dispatchBacklogAtEnd,
      dispatchCatchUpMs: r.dispatchCatchUpMs,
    };
  });

  await scenario('unauthorized', 'The 401 path (well-formed wrong token) vs bare node:http constant 401', async () => {
    const r = await unauthorized(env);
    httpSummary('401', r);
    log(`  statements per refused call: ${r.statementsPerCall}`);
    report.unauthorized = { ...httpFigures(r, { throughputRatio: 0.5 }), statementsPerCall: r.statementsPerCall, baselineStatements: 0 };
  });

  await scenario('query', 'deployments(first: 50) over GraphQL vs bare node:http SELECT + JSON', async () => {
    const r = await deploymentsQuery(env);
    httpSummary('query', r);
    log(`  seeded ${r.seeded} deployments; statements per query: ${r.statementsPerCall}`);
    report.deploymentsQuery = { ...httpFigures(r, { throughputRatio: 0.5 }), seeded: r.seeded, statementsPerCall: r.statementsPerCall, baselineStatements: 1 };
  });

  await scenario('fanout', `Live status fan-out to ${sizes.fanout.join(' and ')} graphql-ws subscribers vs bare ws broadcast`, async () => {
    const r = await fanout(env, sizes.fanout);
    const figures = r.app.map((run, i) => {
      const baseline = r.baseline[i];
      log(`  ${run.subscribers} subscribers (${run.connected} connected in ${run.rampSeconds} s, ${run.missing} missing):`);
      const line = (r: FanoutRun) =>
        `p50 ${r.delayMs.p50} ms, p99 ${r.delayMs.p99} ms, max ${r.delayMs.max} ms; ${r.rssPerConnectionKB} KB RSS, ${r.heapPerConnectionKB} KB heap per connection; ` +
        `CPU per subscriber ${r.subscribeCpuMicros} µs to subscribe, ${r.deliverCpuMicros} µs to deliver`;
      log(`    app      ${line(run)}`);
      if (baseline) log(`    baseline ${line(baseline)}`);
      return fanoutFigures(run, baseline, run.subscribers <= 1_000 ? 100 : 500);
    });
    report.fanout = {
      note: `${sizes.fanout.join(' and ')} subscribers (${quick ? 'quick' : 'full'} mode)`,
      runs: figures,
    };
  });

  await scenario('pubsub', 'In-process pub/sub fan-out (no network): the app\'s pub/sub vs graphql-yoga createPubSub + for-await', async () => {
    const runs = [];
    for (const n of [1_000, 10_000]) {
      const r = await pubsubMicro(n);
      log(`  ${n} subscribers: subscribe ${r.subscribeMs} ms (baseline ${r.baselineSubscribeMs}), publish to all ${r.publishMs} ms (baseline ${r.baselinePublishMs}), unsubscribe ${r.unsubscribeMs} ms (baseline ${r.baselineUnsubscribeMs})`);
      runs.push(r);
    }
    report.pubsub = { baselineIs: 'graphql-yoga createPubSub (EventTarget + one Repeater per subscriber, consumed with for-await), as used before', runs };
  });

  await scenario('leak', `Leak check: ${sizes.leakCycles} subscribe/disconnect cycles`, async () => {
    const r = await leakCheck(env, sizes.leakCycles);
    log(`  ${r.completed} cycles in ${r.seconds} s (${r.failed} failed)`);
    log(`  before: heap ${r.before.heapUsedKB} KB, handles ${r.before.handles}, streams ${r.before.openStreams}, tracked ${r.before.trackedKeys}`);
    log(`  middle: heap ${r.middle.heapUsedKB} KB, handles ${r.middle.handles}, streams ${r.middle.openStreams}, tracked ${r.middle.trackedKeys}`);
    log(`  after:  heap ${r.after.heapUsedKB} KB, handles ${r.after.handles}, streams ${r.after.openStreams}, tracked ${r.after.trackedKeys}`);
    log(`  heap delta ${r.heapDeltaKB} KB (${r.heapDeltaBytesPerCycle} bytes per cycle over all, ${r.secondHalfBytesPerCycle} over the second half)`);
    report.leak = {
      cycles: r.cycles,
      completed: r.completed,
      failed: r.failed,
      seconds: r.seconds,
      heapUsedKB: r.after.heapUsedKB,
      baselineHeapUsedKB: r.before.heapUsedKB,
      heapRatio: ratio(r.after.heapUsedKB, r.before.heapUsedKB),
      heapDeltaBytesPerCycle: r.heapDeltaBytesPerCycle,
      middleHeapUsedKB: r.middle.heapUsedKB,
      secondHalfBytesPerCycle: r.secondHalfBytesPerCycle,
      handles: r.after.handles,
      baselineHandles: r.before.handles,
      openStreams: r.after.openStreams,
      baselineOpenStreams: r.before.openStreams,
      trackedKeys: r.after.trackedKeys,
      baselineTrackedKeys: r.before.trackedKeys,
      baselineIs: 'the same app after a 500-cycle warm-up, before the measured cycles',
      goal: 'flat: streams and tracked keys back to 0, handles not above the baseline, heap growth over the second half under 100 bytes per cycle',
      met: r.failed === 0 && r.after.openStreams === 0 && r.after.trackedKeys === 0 && r.handlesDelta <= 0 && r.secondHalfBytesPerCycle < 100,
    };
  });

  await scenario('informer', `Informer start-up with ${sizes.informerRuns} PipelineRuns vs one plain list`, async () => {
    const r = await informerStartup(env, sizes.informerRuns);
    log(`  created ${r.pipelineRuns} PipelineRuns (with a finished status) in ${r.createSeconds} s`);
    log(`  watcher: synced in ${r.watcher.syncMs} ms, every object applied after ${r.watcher.appliedMs} ms; +${r.watcher.heapAddedMB} MB heap, +${r.watcher.rssAddedMB} MB RSS`);
    log(`  list:    ${r.baseline.listMs} ms; +${r.baseline.heapAddedMB} MB heap, +${r.baseline.rssAddedMB} MB RSS`);
    report.informer = {
      pipelineRuns: r.pipelineRuns,
      syncMs: r.watcher.syncMs,
      baselineListMs: r.baseline.listMs,
      syncRatio: r.syncRatio,
      appliedMs: r.watcher.appliedMs,
      heapAddedMB: r.watcher.heapAddedMB,
      baselineHeapAddedMB: r.baseline.heapAddedMB,
      heapRatio: r.heapRatio,
      rssAddedMB: r.watcher.rssAddedMB,
      baselineRssAddedMB: r.baseline.rssAddedMB,
    };
  });
} finally {
  await env.stop().catch((error) => log(`cleanup failed: ${String(error)}`));
}

report.seconds = round((Date.now() - startedAt) / 1000);
if (profileDir) report.profiles = profileDir;
log('');
log(JSON.stringify(report));
process.exit(0);
