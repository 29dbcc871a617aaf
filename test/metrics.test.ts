import { afterAll, beforeAll, expect, it } from 'vitest';
import { createHook, createService, eventually, startTestApp, type TestApp } from './support/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ LOCAL_TEKTON: 'simulate' });
});
afterAll(async () => t?.stop());

async function scrape(): Promise<string> {
  const res = await fetch(`${t.app.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

it('exposes hook calls by outcome, latency by route, deployments by status, queue, retries, restarts and subscriptions', async () => {
  const hook = await createHook(t, t.adminToken, await createService(t, t.adminToken));
  const before = await scrape();
  for (const series of [
    'stackblaze_dispatch_queue_depth',
    'stackblaze_dispatch_retries_total',
    'stackblaze_watch_restarts_total',
    'stackblaze_open_subscriptions',
    'stackblaze_websocket_clients',
    'process_resident_memory_bytes',
  ]) {
    expect(before, series).toMatch(new RegExp(`^${series} \\d`, 'm'));
  }

  const id = (await (await fetch(hook.url, { method: 'POST' })).json()).id;
  await fetch(hook.url.replace(/.$/, '_'), { method: 'POST' });
  await fetch(hook.url, { method: 'GET' });
  await eventually(async () => {
    const r = await t.gql(t.adminToken, 'query($id: ID!) { deployment(id: $id) { status } }', { id });
    return r.data.deployment.status === 'SUCCEEDED' ? true : undefined;
  });

  const after = await scrape();
  expect(value(after, 'stackblaze_hook_calls_total{outcome="accepted"}') - value(before, 'stackblaze_hook_calls_total{outcome="accepted"}')).toBe(1);
  expect(value(after, 'stackblaze_hook_calls_total{outcome="unauthorized"}') - value(before, 'stackblaze_hook_calls_total{outcome="unauthorized"}')).toBe(1);
  expect(value(after, 'stackblaze_deployments{status="SUCCEEDED"}')).toBeGreaterThanOrEqual(1);
  expect(after).toMatch(/^stackblaze_http_request_duration_seconds_count\{route="hook_trigger",method="POST",status="202"\} \d/m);
  expect(after).toMatch(/^stackblaze_http_request_duration_seconds_count\{route="graphql",method="POST",status="200"\} \d/m);
  // Metrics never carry a hook token.
  expect(after).not.toContain(hook.token);
});
