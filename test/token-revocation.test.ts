import { mkdtemp, rm } from 'node:fs/promises';
import pg from 'pg';
import os from 'node:os';
import path from 'node:path';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCluster, type LocalCluster } from '../src/k8s/local-cluster/index.js';
import { createHook, createService, eventually, startTestApp, type TestApp } from './support/app.js';
import { rawSocket, wsClient } from './support/graphql-ws.js';

/**
 * Revoking an API token ends the subscriptions opened with it, on every replica, at once: two
 * replicas on one database and one cluster, a subscriber on each.
 */

const EVENTS = 'subscription($s: ID!) { deploymentEvents(serviceId: $s) { deploymentId sequence status } }';

let dir: string;
let cluster: LocalCluster;
let a: TestApp;
let b: TestApp;
let serviceId: string;
let hookUrl: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'stackblaze-revocation-'));
  cluster = await startLocalCluster({ dataDir: dir, tekton: 'simulate', simulation: { stepMs: 150 } });
  a = await startTestApp({ KUBECONFIG: cluster.kubeconfigPath });
  b = await startTestApp({ KUBECONFIG: cluster.kubeconfigPath, BOOTSTRAP_ADMIN_TOKEN: a.adminToken }, { databaseUrl: a.databaseUrl });
  serviceId = await createService(a, a.adminToken, 'revocation');
  hookUrl = (await createHook(a, a.adminToken, serviceId)).url;
  await Promise.all([a.app.watcher.whenSynced(), b.app.watcher.whenSynced()]);
});
afterAll(async () => {
  await b?.stop();
  await a?.stop();
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function createToken(role: string): Promise<{ id: string; token: string }> {
  const r = await a.gql(a.adminToken, 'mutation($n: String!, $r: Role!) { createApiToken(input: {name: $n, role: $r}) { apiToken { id } token } }', {
    n: `subscriber-${role}-${Date.now()}`,
    r: role,
  });
  return { id: r.data.createApiToken.apiToken.id, token: r.data.createApiToken.token };
}

async function deploy(): Promise<string> {
  const res = await fetch(hookUrl, { method: 'POST' });
  expect(res.status).toBe(202);
  return (await res.json()).id;
}

/** Everything one subscription delivers, kept in order: results, then how it ended. */
function subscribeOverWs(client: Client) {
  const results: any[] = [];
  let end: 'complete' | 'error' | null = null;
  client.subscribe({ query: EVENTS, variables: { s: serviceId } }, {
    next: (r) => results.push(r),
    error: () => (end = 'error'),
    complete: () => (end = 'complete'),
  });
  return { results, ended: () => end };
}

/** The same over SSE: each `next` payload, and whether `complete` came. */
function subscribeOverSse(token: string) {
  const results: any[] = [];
  let completed = false;
  let text = '';
  const done = (async () => {
    const res = await fetch(`${a.app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: EVENTS, variables: { s: serviceId } }),
    });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      text += decoder.decode(chunk.value, { stream: true });
      let end: number;
      while ((end = text.indexOf('\n\n')) !== -1) {
        const block = text.slice(0, end);
        text = text.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.+)$/m.exec(block)?.[1];
        if (event === 'next' && data) results.push(JSON.parse(data));
        if (event === 'complete') completed = true;
      }
    }
  })();
  return { results, completed: () => completed, done };
}

const statusesOf = (results: any[], id: string) =>
  results.filter((r) => r.data?.deploymentEvents?.deploymentId === id).map((r) => r.data.deploymentEvents.status);

describe('revokeApiToken with subscriptions open', () => {
  it('ends the token’s subscriptions on both replicas with UNAUTHENTICATED, and they deliver nothing more', async () => {
    const viewer = await createToken('VIEWER');
    const onB = wsClient(b.app.url, viewer.token);
    const control = wsClient(b.app.url, a.adminToken);
    try {
      const ws = subscribeOverWs(onB);
      const others = subscribeOverWs(control);
      const sse = subscribeOverSse(viewer.token);
      await eventually(async () => (b.app.services.streams.openCount() === 2 && a.app.services.streams.openCount() === 1 ? true : undefined), 5_000, 'the subscriptions');

      // Both work before the revocation.
      const before = await deploy();
      await eventually(async () => (statusesOf(ws.results, before).includes('SUCCEEDED') && statusesOf(sse.results, before).includes('SUCCEEDED') ? true : undefined), 10_000, 'the first deployment on both streams');

      const revoked = await a.gql(a.adminToken, 'mutation($id: ID!) { revokeApiToken(id: $id) { apiToken { id revokedAt } } }', { id: viewer.id });
      expect(revoked.data.revokeApiToken.apiToken.revokedAt).not.toBeNull();

      // Each ends with one error saying why, then completes.
      await eventually(async () => (ws.ended() && sse.completed() ? true : undefined), 5_000, 'both streams to end');
      await sse.done;
      for (const results of [ws.results, sse.results]) {
        const last = results.at(-1);
        expect(last.data).toBeNull();
        expect(last.errors.map((e: any) => e.extensions.code)).toEqual(['UNAUTHENTICATED']);
        expect(last.errors[0].message).toMatch(/revoked/);
        expect(results.slice(0, -1).every((r) => !r.errors)).toBe(true);
      }
      expect(ws.ended()).toBe('complete');

      // A deployment after the revocation reaches other tokens' subscribers, not the revoked ones.
      const countWs = ws.results.length;
      const countSse = sse.results.length;
      const after = await deploy();
      await eventually(async () => (statusesOf(others.results, after).includes('SUCCEEDED') ? true : undefined), 10_000, 'the second deployment on the other subscription');
      expect(statusesOf(others.results, before)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
      expect(statusesOf(others.results, after)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
      expect(ws.results.length).toBe(countWs);
      expect(sse.results.length).toBe(countSse);
      expect(others.ended()).toBeNull();
      expect(b.app.services.streams.openCount()).toBe(1);
      expect(a.app.services.streams.openCount()).toBe(0);

      // And the token opens nothing new.
      const again = await rawSocket(b.app.url);
      again.send({ type: 'connection_init', payload: { authorization: `Bearer ${viewer.token}` } });
      expect((await again.closed).code).toBe(4403);
    } finally {
      await onB.dispose();
      await control.dispose();
    }
  });

  it('ends them too when the revocation came while the replica’s LISTEN connection was down', async () => {
    const viewer = await createToken('VIEWER');
    const client = wsClient(b.app.url, viewer.token);
    const admin = new pg.Client({ connectionString: a.databaseUrl });
    await admin.connect();
    try {
      const ws = subscribeOverWs(client);
      await eventually(async () => (b.app.services.streams.openCount() === 1 ? true : undefined), 5_000, 'the subscription');
      const reconnects = b.app.notifications.reconnects;
      const listener = (b.app.notifications as unknown as { client: pg.Client }).client as unknown as { processID: number };
      await admin.query('select pg_terminate_backend($1)', [listener.processID]);
      await eventually(async () => (b.app.notifications.isListening() ? undefined : true), 5_000, 'replica B to lose its LISTEN connection');

      await a.gql(a.adminToken, 'mutation($id: ID!) { revokeApiToken(id: $id) { apiToken { id } } }', { id: viewer.id });
      // Replica B was not listening when the notification went out.
      expect(b.app.notifications.isListening()).toBe(false);

      await eventually(async () => (ws.ended() ? true : undefined), 10_000, 'the stream to end once B listens again');
      expect(b.app.notifications.reconnects).toBe(reconnects + 1);
      expect(ws.results.at(-1).errors.map((e: any) => e.extensions.code)).toEqual(['UNAUTHENTICATED']);
      expect(b.app.services.streams.openCount()).toBe(0);
    } finally {
      await admin.end();
      await client.dispose();
    }
  });
});
