import { setMaxListeners } from 'node:events';
import { createPubSub } from 'graphql-yoga';
import { createDeploymentPubSub, type StreamMessage } from '../../src/pubsub/pubsub.js';
import { round } from '../lib/stats.js';

/**
 * The in-process part of the fan-out on its own: N subscribers of one deployment on the app's
 * pub/sub, one published event, then all of them leaving. Baseline: graphql-yoga's createPubSub
 * (an EventTarget with one Repeater per subscriber), consumed with for-await, which is what the
 * app used before. Runs in this process; no network, no database.
 */
export interface PubSubMicro {
  subscribers: number;
  subscribeMs: number;
  publishMs: number;
  unsubscribeMs: number;
  baselineSubscribeMs: number;
  baselinePublishMs: number;
  baselineUnsubscribeMs: number;
  publishRatio: number;
  subscribeRatio: number;
}

const EVENT: StreamMessage = {
  deploymentId: 'dep-a',
  sequence: 2,
  status: 'RUNNING',
  previousStatus: 'QUEUED',
  reason: 'Running',
  message: null,
  at: new Date(),
  serviceId: 'svc_a',
  organizationId: 'org_a',
};

async function current(n: number) {
  const pubsub = createDeploymentPubSub();
  let received = 0;
  let allReceived!: () => void;
  const done = new Promise<void>((resolve) => (allReceived = resolve));
  const onMessage = () => {
    if (++received === n) allReceived();
  };
  let started = performance.now();
  const unlisten = Array.from({ length: n }, () => pubsub.listen('deployment:status', 'dep-a', onMessage));
  const subscribeMs = performance.now() - started;
  started = performance.now();
  pubsub.publish('deployment:status', 'dep-a', EVENT);
  await done;
  const publishMs = performance.now() - started;
  started = performance.now();
  for (const stop of unlisten) stop();
  return { subscribeMs, publishMs, unsubscribeMs: performance.now() - started };
}

async function previous(n: number) {
  // Only to keep Node's listener-count warning out of the output; it changes nothing measured.
  const eventTarget = new EventTarget();
  setMaxListeners(0, eventTarget);
  const pubsub = createPubSub<{ 'deployment:status': [deploymentId: string, message: StreamMessage] }>({ eventTarget });
  let received = 0;
  let allReceived!: () => void;
  const done = new Promise<void>((resolve) => (allReceived = resolve));
  let started = performance.now();
  const sources = Array.from({ length: n }, () => pubsub.subscribe('deployment:status', 'dep-a'));
  const loops = sources.map(async (source) => {
    for await (const _message of source) {
      if (++received === n) allReceived();
    }
  });
  // Listeners are added when each iterator first asks for a value.
  await new Promise((resolve) => setImmediate(resolve));
  const subscribeMs = performance.now() - started;
  started = performance.now();
  pubsub.publish('deployment:status', 'dep-a', EVENT);
  await done;
  const publishMs = performance.now() - started;
  started = performance.now();
  await Promise.all(sources.map((s) => s.return?.()));
  await Promise.all(loops);
  return { subscribeMs, publishMs, unsubscribeMs: performance.now() - started };
}

export async function pubsubMicro(n: number): Promise<PubSubMicro> {
  // Warm both up, then take the better of three runs each, alternating.
  await current(Math.min(n, 1000));
  await previous(Math.min(n, 1000));
  const best = (runs: Array<Record<'subscribeMs' | 'publishMs' | 'unsubscribeMs', number>>, k: 'subscribeMs' | 'publishMs' | 'unsubscribeMs') => Math.min(...runs.map((r) => r[k]));
  const now: Array<Awaited<ReturnType<typeof current>>> = [];
  const before: Array<Awaited<ReturnType<typeof previous>>> = [];
  for (let i = 0; i < 3; i++) {
    now.push(await current(n));
    before.push(await previous(n));
  }
  const figures = {
    subscribers: n,
    subscribeMs: round(best(now, 'subscribeMs')),
    publishMs: round(best(now, 'publishMs')),
    unsubscribeMs: round(best(now, 'unsubscribeMs')),
    baselineSubscribeMs: round(best(before, 'subscribeMs')),
    baselinePublishMs: round(best(before, 'publishMs')),
    baselineUnsubscribeMs: round(best(before, 'unsubscribeMs')),
  };
  return {
    ...figures,
    publishRatio: round(figures.publishMs / figures.baselinePublishMs),
    subscribeRatio: round((figures.subscribeMs + figures.unsubscribeMs) / (figures.baselineSubscribeMs + figures.baselineUnsubscribeMs)),
  };
}
