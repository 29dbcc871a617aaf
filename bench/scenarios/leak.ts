import WebSocket from 'ws';
import { createServiceAndHook, triggerHook, type AppStats, type BenchEnvironment } from '../lib/env.js';
import { KB, round, runPool, sleep, waitFor } from '../lib/stats.js';
import { openSubscriber } from '../lib/ws-clients.js';
import { FOLLOW } from './fanout.js';

export interface LeakScenario {
  cycles: number;
  completed: number;
  failed: number;
  seconds: number;
  before: LeakSnapshot;
  /** After the first half of the cycles: growth from here to `after` is what a leak would show. */
  middle: LeakSnapshot;
  after: LeakSnapshot;
  secondHalfBytesPerCycle: number;
  heapDeltaKB: number;
  heapDeltaBytesPerCycle: number;
  handlesDelta: number;
}

interface LeakSnapshot {
  heapUsedKB: number;
  rssKB: number;
  handles: number;
  openStreams: number;
  trackedKeys: number;
}

function snapshot(stats: AppStats): LeakSnapshot {
  return {
    heapUsedKB: round(stats.memory.heapUsed / KB),
    rssKB: round(stats.memory.rss / KB),
    handles: stats.memory.handles,
    openStreams: stats.openStreams,
    trackedKeys: stats.trackedKeys,
  };
}

/** One subscriber's life, ending in one of the ways real clients go away. */
async function cycle(url: string, token: string, deploymentId: string, i: number): Promise<void> {
  if (i % 5 === 4) {
    // Gone before the server's ack: connection_init sent, socket cut.
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.on('error', reject);
      ws.on('open', () => {
        ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
        ws.terminate();
        resolve();
      });
    });
    return;
  }
  const { ws } = await openSubscriber(url, token, FOLLOW, { id: deploymentId }, 30_000);
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  if (i % 5 === 0) ws.close(); // a clean close
  else if (i % 5 === 1) {
    ws.send(JSON.stringify({ type: 'complete', id: '1' })); // completes the operation, then closes
    ws.close();
  } else if (i % 5 === 2) ws.terminate(); // the TCP connection dropped
  else ws.close(1001); // the page went away
  await closed;
}

/**
 * Scenario 5: subscribe/disconnect cycles against one app: heap after GC, open handles, open
 * streams and tracked LISTEN keys, before (after a warm-up) and after (once the app has settled).
 */
export async function leakCheck(env: BenchEnvironment, cycles: number): Promise<LeakScenario> {
  const app = await env.startApp('leak');
  try {
    const { hookUrl } = await createServiceAndHook(app);
    const deploymentId = await triggerHook(hookUrl);
    await waitFor(() => env.pipelineRunExists(app.namespace, deploymentId), 30_000);
    const settle = async () => {
      await waitFor(async () => {
        const s = await app.stats(false);
        return s.openStreams === 0 && s.trackedKeys === 0;
      }, 30_000, 100);
      await sleep(500);
    };
    await runPool(500, 16, (i) => cycle(app.url, app.adminToken, deploymentId, i), 60_000);
    await settle();
    const before = snapshot(await app.stats());
    const half = Math.floor(cycles / 2);
    let measuredMs = 0;
    const run = async (from: number, count: number) => {
      const started = performance.now();
      const outcome = await env.profiled(app, `leak-cycles-${from}`, () => runPool(count, 16, (i) => cycle(app.url, app.adminToken, deploymentId, from + i), 600_000));
      measuredMs += performance.now() - started;
      await settle();
      return outcome;
    };
    const first = await run(0, half);
    const middle = snapshot(await app.stats());
    const second = await run(half, cycles - half);
    const after = snapshot(await app.stats());
    const outcome = { done: first.done + second.done, failed: first.failed + second.failed };
    const seconds = round(measuredMs / 1000);
    return {
      cycles,
      completed: outcome.done,
      failed: outcome.failed,
      seconds,
      before,
      middle,
      after,
      secondHalfBytesPerCycle: round(((after.heapUsedKB - middle.heapUsedKB) * KB) / (cycles - half)),
      heapDeltaKB: round(after.heapUsedKB - before.heapUsedKB),
      heapDeltaBytesPerCycle: round(((after.heapUsedKB - before.heapUsedKB) * KB) / cycles),
      handlesDelta: after.handles - before.handles,
    };
  } finally {
    await app.stop();
  }
}
