import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createHook, createOrganization, createService, eventually, startTestApp, type TestApp } from './support/app.js';
import { collect, rawSocket, wsClient } from './support/graphql-ws.js';

const FOLLOW = `subscription($id: ID!, $after: Int) {
  deploymentStatusChanged(id: $id, afterSequence: $after) { deploymentId sequence status previousStatus reason at }
}`;

let t: TestApp;
let hook: { url: string; id: string };
let serviceId: string;

async function trigger(query = ''): Promise<string> {
  const res = await fetch(hook.url + query, { method: 'POST' });
  expect(res.status).toBe(202);
  return (await res.json()).id;
}

async function finished(id: string): Promise<void> {
  await eventually(async () => {
    const r = await t.gql(t.adminToken, 'query($id: ID!) { deployment(id: $id) { status } }', { id });
    return ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'].includes(r.data.deployment.status) ? true : undefined;
  });
}

/** Reads a text/event-stream response to its end and returns its events. */
async function readEventStream(res: Response): Promise<Array<{ event: string; data: any }>> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block.trim() && !block.startsWith(':'))
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = /^data: (.*)$/m.exec(block)?.[1];
      return { event, data: data ? JSON.parse(data) : null };
    });
}

beforeAll(async () => {
  t = await startTestApp({ LOCAL_TEKTON: 'simulate' }, { tuning: { simulationStepMs: 250 } });
  serviceId = await createService(t, t.adminToken);
  hook = await createHook(t, t.adminToken, serviceId);
  await t.app.watcher.whenSynced();
});
afterAll(async () => t?.stop());

describe('deploymentStatusChanged over graphql-ws', () => {
  it('sends QUEUED, RUNNING, SUCCEEDED in order, nothing twice, then completes', async () => {
    const id = await trigger();
    const client = wsClient(t.app.url, t.adminToken);
    const { results, error } = await collect(client, FOLLOW, { id });
    await client.dispose();
    expect(error).toBeUndefined();
    const events = results.map((r) => r.data!.deploymentStatusChanged);
    expect(events.map((e: any) => e.status)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
    expect(events.map((e: any) => e.sequence)).toEqual([1, 2, 3]);
    expect(events.map((e: any) => e.previousStatus)).toEqual([null, 'QUEUED', 'RUNNING']);
    expect(events.every((e: any) => e.deploymentId === id)).toBe(true);
  });

  it('resumes exactly after afterSequence, and sends a finished deployment’s final state then completes', async () => {
    const id = await trigger();
    await finished(id);
    const client = wsClient(t.app.url, t.adminToken);
    const resumed = await collect(client, FOLLOW, { id, after: 1 });
    expect(resumed.results.map((r) => r.data!.deploymentStatusChanged.sequence)).toEqual([2, 3]);
    const fromZero = await collect(client, FOLLOW, { id, after: 0 });
    expect(fromZero.results.map((r) => r.data!.deploymentStatusChanged.status)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
    const current = await collect(client, FOLLOW, { id });
    expect(current.results.map((r) => r.data!.deploymentStatusChanged.status)).toEqual(['SUCCEEDED']);
    const beyond = await collect(client, FOLLOW, { id, after: 3 });
    expect(beyond.results).toEqual([]);
    await client.dispose();
  });

  it('gives another organization an error and no data, exactly as for an unknown ID', async () => {
    const id = await trigger();
    const other = await createOrganization(t, `other-${Date.now()}`);
    const client = wsClient(t.app.url, other.adminToken);
    const foreign = await collect(client, FOLLOW, { id });
    const unknown = await collect(client, FOLLOW, { id: 'dep-doesnotexist' });
    await client.dispose();
    for (const outcome of [foreign, unknown]) {
      const errors = outcome.results.flatMap((r) => r.errors ?? []) as any[];
      expect(outcome.results.every((r) => r.data == null)).toBe(true);
      expect(errors.map((e) => e.extensions?.code)).toEqual(['NOT_FOUND']);
      // The HTTP status yoga keeps beside an error is for HTTP answers, not WebSocket messages.
      expect(errors.map((e) => e.extensions?.http)).toEqual([undefined]);
    }
    expect(JSON.stringify(foreign)).toBe(JSON.stringify(unknown));
  });

  it('streams every deployment of a service through deploymentEvents', async () => {
    const client = wsClient(t.app.url, t.adminToken);
    const seen: any[] = [];
    let subscribed!: () => void;
    const ready = new Promise<void>((resolve) => (subscribed = resolve));
    const dispose = client.subscribe(
      { query: 'subscription($s: ID!) { deploymentEvents(serviceId: $s) { deploymentId sequence status } }', variables: { s: serviceId } },
      { next: (r) => seen.push(r.data!.deploymentEvents), error: () => {}, complete: () => {} },
    );
    client.on('connected', () => setTimeout(subscribed, 200));
    await ready;
    const ids = [await trigger(), await trigger()];
    await Promise.all(ids.map(finished));
    await eventually(async () => (seen.filter((e) => ids.includes(e.deploymentId) && e.status === 'SUCCEEDED').length === 2 ? true : undefined));
    dispose();
    await client.dispose();
    for (const id of ids) {
      expect(seen.filter((e) => e.deploymentId === id).map((e) => e.status)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
    }
  });

  it('misses and repeats nothing when the LISTEN connection drops mid-run', async () => {
    const id = await trigger();
    const reconnectsBefore = t.app.notifications.reconnects;
    const client = wsClient(t.app.url, t.adminToken);
    const admin = new pg.Client({ connectionString: t.databaseUrl });
    await admin.connect();
    const outcome = collect(client, FOLLOW, { id }, () => {
      void admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where query ilike 'listen %' and datname = current_database()`);
    });
    const { results } = await outcome;
    await admin.end();
    await client.dispose();
    expect(results.map((r) => r.data!.deploymentStatusChanged.status)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
    expect(t.app.notifications.reconnects).toBe(reconnectsBefore + 1);
    await eventually(async () => (t.app.services.streams.openCount() === 0 ? true : undefined));
  });

  it('releases streams and LISTEN interest after clean closes, abrupt socket loss and mid-setup disconnects', async () => {
    const running = await trigger();
    for (let i = 0; i < 20; i++) {
      const s = await rawSocket(t.app.url);
      s.send({ type: 'connection_init', payload: { authorization: `Bearer ${t.adminToken}` } });
      if (i % 4 === 0) {
        s.ws.terminate(); // gone before the ack
        continue;
      }
      await s.next();
      s.send({ type: 'subscribe', id: '1', payload: { query: FOLLOW, variables: { id: running } } });
      await s.next();
      if (i % 4 === 1) s.ws.close();
      else if (i % 4 === 2) s.send({ type: 'complete', id: '1' });
      else (s.ws as any)._socket.destroy(); // TCP dropped without a close frame
      if (i % 4 === 2) s.ws.close();
    }
    await eventually(async () => (t.app.services.streams.openCount() === 0 && t.app.notifications.trackedCount() === 0 ? true : undefined), 10_000, 'every stream to be released');
  });
});

describe('deploymentStatusChanged over SSE', () => {
  it('streams the same events and ends after the terminal one', async () => {
    const id = await trigger('?branch=simulate/fail');
    const res = await fetch(`${t.app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${t.adminToken}` },
      body: JSON.stringify({ query: FOLLOW, variables: { id } }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = await readEventStream(res);
    const next = events.filter((e) => e.event === 'next').map((e) => e.data.data.deploymentStatusChanged.status);
    expect(next).toEqual(['QUEUED', 'RUNNING', 'FAILED']);
    expect(events.at(-1)!.event).toBe('complete');
  });

  it('refuses SSE without a token', async () => {
    const res = await fetch(`${t.app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: FOLLOW, variables: { id: 'x' } }),
    });
    expect(res.status).toBe(401);
  });
});

describe('the hook route’s follow mode', () => {
  it('answers 202 and streams status events until the terminal one', async () => {
    const res = await fetch(hook.url, { method: 'POST', headers: { accept: 'text/event-stream' } });
    expect(res.status).toBe(202);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = await readEventStream(res);
    expect(events[0]!.event).toBe('deployment');
    expect(events[0]!.data.status).toBe('queued');
    expect(res.headers.get('location')).toBe(events[0]!.data.statusUrl);
    const statuses = events.filter((e) => e.event === 'status').map((e) => e.data.status);
    expect(statuses).toEqual(['queued', 'running', 'succeeded']);
  });

  it('releases the stream when the client goes away', async () => {
    const controller = new AbortController();
    const res = await fetch(hook.url, { method: 'POST', headers: { accept: 'text/event-stream' }, signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    expect(t.app.services.streams.openCount()).toBeGreaterThan(0);
    controller.abort();
    await eventually(async () => (t.app.services.streams.openCount() === 0 ? true : undefined), 5_000, 'the stream to be released');
  });
});

describe('the graphql-transport-ws protocol', () => {
  it('closes 4403 for a rejected connection_init', async () => {
    const s = await rawSocket(t.app.url);
    s.send({ type: 'connection_init', payload: { authorization: 'Bearer sbapi_wrong' } });
    expect((await s.closed).code).toBe(4403);
  });

  it('closes 4401 for an operation before the ack, 4400 for a bad message, 4429 for a second init, 4409 for a duplicate id', async () => {
    const early = await rawSocket(t.app.url);
    early.send({ type: 'subscribe', id: '1', payload: { query: '{ viewer { role } }' } });
    expect((await early.closed).code).toBe(4401);

    const bad = await rawSocket(t.app.url);
    bad.send('this is not json');
    expect((await bad.closed).code).toBe(4400);

    const twice = await rawSocket(t.app.url);
    twice.send({ type: 'connection_init', payload: { authorization: `Bearer ${t.adminToken}` } });
    expect((await twice.next()).type).toBe('connection_ack');
    twice.send({ type: 'connection_init', payload: { authorization: `Bearer ${t.adminToken}` } });
    expect((await twice.closed).code).toBe(4429);

    const dup = await rawSocket(t.app.url);
    dup.send({ type: 'connection_init', payload: { authorization: `Bearer ${t.adminToken}` } });
    expect((await dup.next()).type).toBe('connection_ack');
    const id = await trigger();
    dup.send({ type: 'subscribe', id: 'a', payload: { query: FOLLOW, variables: { id } } });
    dup.send({ type: 'subscribe', id: 'a', payload: { query: FOLLOW, variables: { id } } });
    expect((await dup.closed).code).toBe(4409);
  });

  it('answers ping with pong, and closes 4408 when no connection_init arrives in time', async () => {
    const s = await rawSocket(t.app.url);
    s.send({ type: 'connection_init', payload: { authorization: `Bearer ${t.adminToken}` } });
    expect((await s.next()).type).toBe('connection_ack');
    s.send({ type: 'ping' });
    expect((await s.next()).type).toBe('pong');
    s.ws.close();

    const silent = await rawSocket(t.app.url);
    expect((await silent.closed).code).toBe(4408);
  });

  it('caps message size and operations per socket', async () => {
    const big = await rawSocket(t.app.url);
    big.send({ type: 'connection_init', payload: { authorization: `Bearer ${t.adminToken}`, padding: 'x'.repeat(200 * 1024) } });
    expect((await big.closed).code).toBe(1009);

    const many = await rawSocket(t.app.url);
    many.send({ type: 'connection_init', payload: { authorization: `Bearer ${t.adminToken}` } });
    expect((await many.next()).type).toBe('connection_ack');
    const id = await trigger();
    await finished(id);
    // Subscriptions to a running deployment stay open; a finished one completes at once.
    const running = await trigger();
    for (let i = 0; i < 101; i++) many.send({ type: 'subscribe', id: `s${i}`, payload: { query: FOLLOW, variables: { id: running } } });
    const refused = await eventually(async () => many.messages.find((m) => m.type === 'error'), 10_000, 'the 101st operation to be refused');
    expect(refused.id).toBe('s100');
    expect(refused.payload[0].message).toMatch(/at most 100/);
    many.ws.close();
  });
});

describe('two replicas on one database and one cluster', () => {
  it('tells a subscriber on replica B about a deployment triggered on replica A', async () => {
    const { startLocalCluster } = await import('../src/k8s/local-cluster/index.js');
    const { mkdtemp, rm } = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'stackblaze-shared-cluster-'));
    const cluster = await startLocalCluster({ dataDir: dir, tekton: 'simulate', simulation: { stepMs: 200 } });
    const a = await startTestApp({ KUBECONFIG: cluster.kubeconfigPath });
    const b = await startTestApp({ KUBECONFIG: cluster.kubeconfigPath, BOOTSTRAP_ADMIN_TOKEN: a.adminToken }, { databaseUrl: a.databaseUrl });
    try {
      const svc = await createService(a, a.adminToken, 'replicated');
      const h = await createHook(a, a.adminToken, svc);
      const res = await fetch(h.url, { method: 'POST' });
      expect(new URL(h.url).port).toBe(new URL(a.app.url).port);
      const id = (await res.json()).id;
      const client = wsClient(b.app.url, a.adminToken);
      const { results } = await collect(client, FOLLOW, { id, after: 0 });
      await client.dispose();
      expect(results.map((r) => r.data!.deploymentStatusChanged.status)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
    } finally {
      await b.stop();
      await a.stop();
      await cluster.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a new deployment on deploymentEvents', () => {
  it('reaches a subscriber on another replica with its QUEUED event at once, though nothing else happens to it', async () => {
    const { startLocalCluster } = await import('../src/k8s/local-cluster/index.js');
    const { mkdtemp, rm } = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'stackblaze-queued-'));
    // Nothing advances the PipelineRuns: the QUEUED event is all a subscriber can ever get.
    const cluster = await startLocalCluster({ dataDir: dir, tekton: 'off' });
    const a = await startTestApp({ KUBECONFIG: cluster.kubeconfigPath });
    const b = await startTestApp({ KUBECONFIG: cluster.kubeconfigPath, BOOTSTRAP_ADMIN_TOKEN: a.adminToken }, { databaseUrl: a.databaseUrl });
    const client = wsClient(b.app.url, a.adminToken);
    try {
      const svc = await createService(a, a.adminToken, 'queued-announced');
      const h = await createHook(a, a.adminToken, svc);
      const seen: any[] = [];
      const errors: unknown[] = [];
      client.subscribe(
        { query: 'subscription($s: ID!) { deploymentEvents(serviceId: $s) { deploymentId sequence status previousStatus } }', variables: { s: svc } },
        { next: (r) => (r.errors ? errors.push(r.errors) : seen.push(r.data!.deploymentEvents)), error: (e) => errors.push(e), complete: () => {} },
      );
      await eventually(async () => (b.app.services.streams.openCount() === 1 ? true : undefined), 5_000, 'the subscription on replica B');

      const res = await fetch(h.url, { method: 'POST' });
      expect(res.status).toBe(202);
      const fromHook = (await res.json()).id;
      const triggered = await a.gql(a.adminToken, 'mutation($s: ID!) { triggerDeployment(input: {serviceId: $s}) { deployment { id } } }', { s: svc });
      const fromApi = triggered.data.triggerDeployment.deployment.id;

      await eventually(async () => (seen.length >= 2 ? true : undefined), 5_000, 'both QUEUED events on replica B');
      await new Promise((r) => setTimeout(r, 300));
      expect(errors).toEqual([]);
      expect(seen.map((e) => e.deploymentId).sort()).toEqual([fromHook, fromApi].sort());
      expect(seen.every((e) => e.sequence === 1 && e.status === 'QUEUED' && e.previousStatus === null)).toBe(true);
    } finally {
      await client.dispose();
      await b.stop();
      await a.stop();
      await cluster.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
