import { startChild } from '../lib/child.js';
import { createServiceAndHook, triggerHook, type AppStats, type BenchEnvironment } from '../lib/env.js';
import { distribution, KB, round, runPool, sleep, waitFor, type Distribution } from '../lib/stats.js';
import { closeAll, openPlain, openSubscriber, type Subscriber } from '../lib/ws-clients.js';

export const FOLLOW = 'subscription($id: ID!) { deploymentStatusChanged(id: $id) { deploymentId sequence status previousStatus reason at } }';

/** Sockets being opened at once while ramping up; more only queues in the kernel and trips the 3 s init timeout. */
const RAMP_CONCURRENCY = 200;

export interface FanoutRun {
  subscribers: number;
  connected: number;
  failedToConnect: number;
  rampSeconds: number;
  /** Milliseconds from just before the status patch to each subscriber's receipt of RUNNING. */
  delayMs: Distribution;
  missing: number;
  rssPerConnectionKB: number;
  heapPerConnectionKB: number;
  /** CPU time of the server process per subscriber: to connect and subscribe, and to deliver the one event. */
  subscribeCpuMicros: number;
  deliverCpuMicros: number;
}

async function cpuMicros(child: { call<T>(command: string): Promise<T> }): Promise<number> {
  const { user, system } = await child.call<NodeJS.CpuUsage>('cpu');
  return user + system;
}

export interface FanoutScenario {
  app: FanoutRun[];
  baseline: FanoutRun[];
}

function delays(subscribers: Subscriber[], startedAt: number): number[] {
  return subscribers.filter((s) => s.receivedAt !== null).map((s) => round(s.receivedAt! - startedAt));
}

function perConnection(before: NodeJS.MemoryUsage, after: NodeJS.MemoryUsage, connections: number) {
  return {
    rssPerConnectionKB: round((after.rss - before.rss) / connections / KB),
    heapPerConnectionKB: round((after.heapUsed - before.heapUsed) / connections / KB),
  };
}

/** One run's figures; `cpu` is the server's CPU time before and after subscribing, then before and after delivering. */
function runFigures(r: {
  n: number;
  subscribers: Subscriber[];
  failed: number;
  seconds: number;
  startedAt: number;
  before: NodeJS.MemoryUsage;
  after: NodeJS.MemoryUsage;
  cpu: [number, number, number, number];
}): FanoutRun {
  const received = delays(r.subscribers, r.startedAt);
  const [subscribeCpu, subscribedCpu, deliverCpu, deliveredCpu] = r.cpu;
  return {
    subscribeCpuMicros: round((subscribedCpu - subscribeCpu) / r.n),
    deliverCpuMicros: round((deliveredCpu - deliverCpu) / r.n),
    subscribers: r.n,
    connected: r.subscribers.length,
    failedToConnect: r.failed,
    rampSeconds: r.seconds,
    delayMs: distribution(received),
    missing: r.subscribers.length - received.length,
    ...perConnection(r.before, r.after, r.subscribers.length),
  };
}

async function ramp(count: number, open: () => Promise<Subscriber>): Promise<{ subscribers: Subscriber[]; failed: number; seconds: number }> {
  const subscribers: Subscriber[] = [];
  const started = performance.now();
  const outcome = await runPool(count, RAMP_CONCURRENCY, async () => void subscribers.push(await open()), 600_000);
  return { subscribers, failed: outcome.failed + (count - outcome.done - outcome.failed), seconds: round((performance.now() - started) / 1000) };
}

/**
 * Scenario 4: N subscribers of one deployment on one app instance, then one PipelineRun status
 * change through the Kubernetes API; the delay is measured per subscriber. Baseline: N plain
 * sockets on a bare `ws` server broadcasting one message.
 */
export async function fanout(env: BenchEnvironment, sizes: number[]): Promise<FanoutScenario> {
  const appRuns: FanoutRun[] = [];
  const app = await env.startApp('fanout');
  try {
    const { hookUrl } = await createServiceAndHook(app);
    for (const n of sizes) {
      const deploymentId = await triggerHook(hookUrl);
      if (!(await waitFor(() => env.pipelineRunExists(app.namespace, deploymentId), 30_000))) throw new Error('the PipelineRun was not created');
      await sleep(300);
      const before = await app.stats();
      const subscribeCpu = await cpuMicros(app.child);
      const { subscribers, failed, seconds } = await env.profiled(app, `fanout-${n}-subscribe`, () =>
        ramp(n, () => openSubscriber(app.url, app.adminToken, FOLLOW, { id: deploymentId }, 60_000)),
      );
      const subscribedCpu = await cpuMicros(app.child);
      await sleep(500);
      const after = await app.stats();
      const deliverCpu = await cpuMicros(app.child);
      const now = new Date().toISOString();
      let startedAt = 0;
      await env.profiled(app, `fanout-${n}-deliver`, async () => {
        startedAt = performance.now();
        const status = await env.patchStatus(app.namespace, deploymentId, {
          startTime: now,
          conditions: [{ type: 'Succeeded', status: 'Unknown', reason: 'Running', message: 'Tasks Completed: 0 (Failed: 0, Cancelled 0), Incomplete: 3, Skipped: 0', lastTransitionTime: now }],
        });
        if (status !== 200) throw new Error(`the status patch answered ${status}`);
        await waitFor(() => subscribers.every((s) => s.receivedAt !== null), 60_000, 10);
      });
      const deliveredCpu = await cpuMicros(app.child);
      appRuns.push(runFigures({ n, subscribers, failed, seconds, startedAt, before: before.memory, after: after.memory, cpu: [subscribeCpu, subscribedCpu, deliverCpu, deliveredCpu] }));
      await closeAll(subscribers);
      await waitFor(async () => (await app.stats(false)).openStreams === 0, 60_000, 200);
    }
  } finally {
    await app.stop();
  }

  const baselineRuns: FanoutRun[] = [];
  const server = await startChild<{ url: string }>('baseline-ws.ts');
  try {
    for (const n of sizes) {
      const before = await server.call<{ memory: AppStats['memory'] }>('stats');
      const subscribeCpu = await cpuMicros(server);
      const { subscribers, failed, seconds } = await ramp(n, () => openPlain(server.ready.url, 60_000));
      const subscribedCpu = await cpuMicros(server);
      await sleep(500);
      const after = await server.call<{ memory: AppStats['memory'] }>('stats');
      const deliverCpu = await cpuMicros(server);
      const startedAt = performance.now();
      const res = await fetch(`${server.ready.url}/broadcast`, { method: 'POST' });
      await res.arrayBuffer();
      await waitFor(() => subscribers.every((s) => s.receivedAt !== null), 60_000, 10);
      const deliveredCpu = await cpuMicros(server);
      baselineRuns.push(runFigures({ n, subscribers, failed, seconds, startedAt, before: before.memory, after: after.memory, cpu: [subscribeCpu, subscribedCpu, deliverCpu, deliveredCpu] }));
      await closeAll(subscribers);
      await waitFor(async () => (await server.call<{ clients: number }>('stats')).clients === 0, 30_000, 200);
    }
  } finally {
    await server.stop();
  }
  return { app: appRuns, baseline: baselineRuns };
}
