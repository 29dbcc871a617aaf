import * as k8s from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import {
  apiFailure,
  createRun,
  getRun,
  group,
  namespace,
  patchRun,
  pipelineRunManifest,
  plural,
  recordWatch,
  startTestCluster,
  version,
  waitFor,
  type PipelineRunObject,
  type TestCluster,
} from './support/local-cluster-harness.js';

const runsPath = `/apis/tekton.dev/v1/namespaces/${namespace}/pipelineruns`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let t: TestCluster;
afterEach(async () => {
  await t.dispose();
});

const summary = (events: { type: string; object: PipelineRunObject }[]) =>
  events.map((e) => `${e.type} ${e.object.metadata.name ?? ''}@${e.object.metadata.resourceVersion}`);

describe('watch', () => {
  it('flushes headers at once and streams newline-delimited JSON events', async () => {
    t = await startTestCluster();
    const controller = new AbortController();
    const response = await fetch(`${t.cluster.url}${runsPath}?watch=true`, { signal: controller.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('transfer-encoding')).toBe('chunked');
    const reader = response.body!.getReader();
    await createRun(t, pipelineRunManifest('streamed'));
    const { value } = await reader.read();
    const line = new TextDecoder().decode(value);
    expect(line.endsWith('\n')).toBe(true);
    expect(JSON.parse(line)).toMatchObject({ type: 'ADDED', object: { kind: 'PipelineRun', metadata: { name: 'streamed' } } });
    controller.abort();
  });

  it('starts without a resourceVersion with ADDED for every current object, then live events', async () => {
    t = await startTestCluster();
    await createRun(t, pipelineRunManifest('a'));
    await createRun(t, pipelineRunManifest('b'));
    const watch = await recordWatch(t, runsPath);
    await waitFor(() => watch.events.length === 2, 'initial events');
    const c = await createRun(t, pipelineRunManifest('c'));
    await waitFor(() => watch.events.length === 3, 'live event');
    expect(summary(watch.events)).toEqual(['ADDED a@1', 'ADDED b@2', `ADDED c@${c.metadata.resourceVersion}`]);
    watch.abort();
  });

  it('replays exactly the events after the requested resourceVersion, in order, then goes live', async () => {
    t = await startTestCluster();
    const a = await createRun(t, pipelineRunManifest('a'));
    await createRun(t, pipelineRunManifest('b'));
    await patchRun(t, 'a', { metadata: { labels: { step: 'two' } } });
    await t.custom.deleteNamespacedCustomObject({ group, version, namespace, plural, name: 'b' });
    // A change elsewhere shares the resourceVersion sequence but is not this watch's business.
    await createRun(t, pipelineRunManifest('elsewhere'), 'other-namespace');

    const watch = await recordWatch(t, runsPath, { resourceVersion: a.metadata.resourceVersion });
    await waitFor(() => watch.events.length === 3, 'replayed events');
    await patchRun(t, 'a', { metadata: { labels: { step: 'three' } } });
    await waitFor(() => watch.events.length === 4, 'live event');
    expect(summary(watch.events)).toEqual(['ADDED b@2', 'MODIFIED a@3', 'DELETED b@4', 'MODIFIED a@6']);
    expect(watch.events[2]?.object.metadata.uid).toBeTruthy();
    watch.abort();
  });

  it('answers a resourceVersion older than the kept history with one ERROR 410 Expired event, then ends', async () => {
    t = await startTestCluster({ historyLimit: 3 });
    for (const name of ['a', 'b', 'c', 'd', 'e']) await createRun(t, pipelineRunManifest(name));
    const stillKept = await recordWatch(t, runsPath, { resourceVersion: '2' });
    await waitFor(() => stillKept.events.length === 3, 'events 3..5');
    stillKept.abort();

    const watch = await recordWatch(t, runsPath, { resourceVersion: '1' });
    expect(await watch.ended).toBeNull();
    expect(watch.events).toEqual([
      {
        type: 'ERROR',
        object: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: 'too old resource version: 1 (2)',
          reason: 'Expired',
          code: 410,
        },
      },
    ]);
  });

  it('turns selector transitions into ADDED and DELETED for a label-selector watch', async () => {
    t = await startTestCluster();
    await createRun(t, pipelineRunManifest('other', { labels: { app: 'db' } }));
    const watch = await recordWatch(t, runsPath, { labelSelector: 'app=web' });
    await createRun(t, pipelineRunManifest('x', { labels: { app: 'web' } }));
    await patchRun(t, 'x', { metadata: { labels: { app: 'db' } } });
    await patchRun(t, 'other', { metadata: { labels: { touched: 'yes' } } });
    await patchRun(t, 'x', { metadata: { labels: { app: 'web' } } });
    await patchRun(t, 'x', { metadata: { labels: { more: 'yes' } } });
    await t.custom.deleteNamespacedCustomObject({ group, version, namespace, plural, name: 'x' });
    await waitFor(() => watch.events.length === 5, 'five events');
    expect(watch.events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual([
      'ADDED x',
      'DELETED x',
      'ADDED x',
      'MODIFIED x',
      'DELETED x',
    ]);
    watch.abort();
  });

  it('sends BOOKMARKs when allowed and ends the stream after timeoutSeconds', async () => {
    t = await startTestCluster({ bookmarkIntervalMs: 50 });
    const created = await createRun(t, pipelineRunManifest('a'));
    const watch = await recordWatch(t, runsPath, {
      resourceVersion: created.metadata.resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: '1',
    });
    await waitFor(() => watch.events.some((e) => e.type === 'BOOKMARK'), 'a bookmark');
    expect(watch.events[0]).toEqual({
      type: 'BOOKMARK',
      object: { kind: 'PipelineRun', apiVersion: 'tekton.dev/v1', metadata: { resourceVersion: created.metadata.resourceVersion } },
    });
    const started = Date.now();
    expect(await watch.ended).toBeNull();
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("feeds client-node's informer: list, then ADDED, UPDATE and DELETE from the watch", async () => {
    t = await startTestCluster();
    await createRun(t, pipelineRunManifest('existing'));
    const informer = k8s.makeInformer(t.kc, runsPath, () =>
      t.custom.listNamespacedCustomObject({ group, version, namespace, plural }) as never,
    );
    const seen: string[] = [];
    informer.on(k8s.ADD, (o) => seen.push(`add ${o.metadata?.name}`));
    informer.on(k8s.UPDATE, (o) => seen.push(`update ${o.metadata?.name}`));
    informer.on(k8s.DELETE, (o) => seen.push(`delete ${o.metadata?.name}`));
    await informer.start();
    await createRun(t, pipelineRunManifest('new'));
    await patchRun(t, 'new', { spec: { status: 'Cancelled' } });
    await t.custom.deleteNamespacedCustomObject({ group, version, namespace, plural, name: 'existing' });
    await waitFor(() => seen.length === 4, 'four informer callbacks');
    expect(seen).toEqual(['add existing', 'add new', 'update new', 'delete existing']);
    expect(informer.list().map((o) => o.metadata?.name)).toEqual(['new']);
    await informer.stop();
  });
});

describe('faults', () => {
  it('dropWatches ends every watch cleanly, and an informer resumes without missing a change', async () => {
    t = await startTestCluster();
    const watch = await recordWatch(t, runsPath);
    const informer = k8s.makeInformer(t.kc, runsPath, () =>
      t.custom.listNamespacedCustomObject({ group, version, namespace, plural }) as never,
    );
    const added: string[] = [];
    informer.on(k8s.ADD, (o) => added.push(o.metadata?.name ?? ''));
    await informer.start();
    t.cluster.faults.dropWatches();
    expect(await watch.ended).toBeNull();
    await createRun(t, pipelineRunManifest('after-drop'));
    await waitFor(() => added.includes('after-drop'), 'the informer to see the new object');
    await informer.stop();
  });

  it('expireWatches sends 410 Expired to open watches and compacts history; an informer relists', async () => {
    t = await startTestCluster();
    const first = await createRun(t, pipelineRunManifest('a'));
    await createRun(t, pipelineRunManifest('b'));
    const watch = await recordWatch(t, runsPath, { resourceVersion: '0' });
    await waitFor(() => watch.events.length === 2, 'initial events');
    const informer = k8s.makeInformer(t.kc, runsPath, () =>
      t.custom.listNamespacedCustomObject({ group, version, namespace, plural }) as never,
    );
    const errors: unknown[] = [];
    informer.on(k8s.ERROR, (e) => errors.push(e));
    await informer.start();

    t.cluster.faults.expireWatches();
    expect(await watch.ended).toBeNull();
    expect(watch.events[2]).toMatchObject({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } });

    const resumed = await recordWatch(t, runsPath, { resourceVersion: first.metadata.resourceVersion });
    await resumed.ended;
    expect(resumed.events.map((e) => e.type)).toEqual(['ERROR']);

    await createRun(t, pipelineRunManifest('after-expiry'));
    await waitFor(() => informer.get('after-expiry', namespace), 'the informer to relist and see the new object');
    expect(errors).toEqual([]);
    await informer.stop();
  });

  it('stallWatches keeps watches open but silent, including new ones, until cleared', async () => {
    t = await startTestCluster();
    const open = await recordWatch(t, runsPath);
    t.cluster.faults.stallWatches();
    const openedWhileStalled = await recordWatch(t, runsPath);
    await createRun(t, pipelineRunManifest('unseen'));
    await sleep(200);
    expect(open.events).toEqual([]);
    expect(openedWhileStalled.events).toEqual([]);
    const state = await (await fetch(`${t.cluster.url}/_local/faults`)).json();
    expect(state).toMatchObject({ stallingWatches: true, openWatches: 2 });

    t.cluster.faults.clear();
    const fresh = await recordWatch(t, runsPath);
    await waitFor(() => fresh.events.length === 1, 'a watch opened after clear() to work');
    expect(open.events).toEqual([]);
    for (const w of [open, openedWhileStalled, fresh]) w.abort();
  });

  it('failCreates fails that many PipelineRun creates with a proper Status, then lets them through', async () => {
    t = await startTestCluster();
    t.cluster.faults.failCreates(503, 2);
    for (const attempt of [1, 2]) {
      const failure = await apiFailure(createRun(t, pipelineRunManifest(`try-${attempt}`)));
      expect(failure.code).toBe(503);
      expect(failure.status).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'ServiceUnavailable', code: 503 });
    }
    expect((await createRun(t, pipelineRunManifest('try-3'))).metadata.name).toBe('try-3');
    expect((await apiFailure(getRun(t, 'try-1'))).code).toBe(404);

    t.cluster.faults.failCreates(500);
    for (const attempt of [4, 5, 6]) {
      const failure = await apiFailure(createRun(t, pipelineRunManifest(`try-${attempt}`)));
      expect(failure).toMatchObject({ code: 500, status: { reason: 'InternalError' } });
    }
    t.cluster.faults.clear();
    await createRun(t, pipelineRunManifest('try-7'));
  });

  it('setLatency delays every response', async () => {
    t = await startTestCluster();
    await createRun(t, pipelineRunManifest('slow'));
    t.cluster.faults.setLatency(250);
    const started = performance.now();
    await getRun(t, 'slow');
    expect(performance.now() - started).toBeGreaterThanOrEqual(240);
    t.cluster.faults.setLatency(0);
    const quick = performance.now();
    await getRun(t, 'slow');
    expect(performance.now() - quick).toBeLessThan(200);
  });

  it('setUnavailable answers 503 everywhere and drops watches; the fault endpoint still works', async () => {
    t = await startTestCluster();
    await createRun(t, pipelineRunManifest('a'));
    const watch = await recordWatch(t, runsPath);
    t.cluster.faults.setUnavailable(true);
    expect(await watch.ended).toBeNull();
    const failure = await apiFailure(getRun(t, 'a'));
    expect(failure).toMatchObject({ code: 503, status: { kind: 'Status', reason: 'ServiceUnavailable' } });
    const watchFailure = await recordWatch(t, runsPath);
    expect(await watchFailure.ended).toMatchObject({ statusCode: 503 });

    const response = await fetch(`${t.cluster.url}/_local/faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ unavailable: false }),
    });
    expect(response.status).toBe(200);
    expect((await getRun(t, 'a')).metadata.name).toBe('a');
  });

  it('takes the same faults over HTTP, so a cluster in another process can be steered', async () => {
    t = await startTestCluster();
    const post = async (body: unknown) => {
      const response = await fetch(`${t.cluster.url}/_local/faults`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { code: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    expect((await post({ failCreates: { status: 503, count: 1 }, latencyMs: 20 })).body).toMatchObject({
      failCreates: { status: 503, remaining: 1 },
      latencyMs: 20,
    });
    expect((await apiFailure(createRun(t, pipelineRunManifest('a')))).code).toBe(503);
    await createRun(t, pipelineRunManifest('a'));

    const watch = await recordWatch(t, runsPath);
    await post({ dropWatches: true });
    expect(await watch.ended).toBeNull();
    await post({ unavailable: true });
    expect((await apiFailure(getRun(t, 'a'))).code).toBe(503);
    expect((await post({ clear: true })).body).toMatchObject({ unavailable: false, latencyMs: 0, failCreates: null });
    expect((await getRun(t, 'a')).metadata.name).toBe('a');
    expect((await post({ explode: true })).code).toBe(400);
  });
});
