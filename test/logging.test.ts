import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { createHook, createService, startTestApp, type TestApp } from './support/app.js';
import { collect, wsClient } from './support/graphql-ws.js';

const lines: string[] = [];
let t: TestApp;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  t = await startTestApp({ LOCAL_TEKTON: 'simulate' }, { log: createLogger({ level: 'debug', destination: sink }) });
});
afterAll(async () => t?.stop());

it('keeps hook tokens and Authorization values out of every log line', async () => {
  const serviceId = await createService(t, t.adminToken);
  const hook = await createHook(t, t.adminToken, serviceId);
  const wrongHookToken = `sbhook_${'W'.repeat(43)}`;
  const wrongApiToken = 'sbapi_wrong_token_that_must_not_be_logged';
  await fetch(hook.url, { method: 'POST' });
  await fetch(`${hook.url}?branch=a..b`, { method: 'POST' });
  await fetch(hook.url.replace(hook.token, wrongHookToken), { method: 'POST' });
  await fetch(`${hook.url}/deployments/dep-x`);
  await t.gql(wrongApiToken, '{ viewer { role } }');
  await t.gql(t.adminToken, '{ deployment(id: "dep-x") { id } nope }');
  const client = wsClient(t.app.url, wrongApiToken);
  await collect(client, 'subscription { deploymentStatusChanged(id: "x") { status } }', {});
  await client.dispose();
  await new Promise((resolve) => setTimeout(resolve, 200));

  // The check means something only if requests were logged at all.
  const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
  expect(requests.filter((r) => r.route === 'hook_trigger').map((r) => r.status)).toEqual(expect.arrayContaining([202, 400, 401]));
  expect(requests.some((r) => r.route === 'graphql' && r.status === 401)).toBe(true);
  for (const secret of [hook.token, wrongHookToken, wrongApiToken, t.adminToken]) {
    expect(lines.filter((l) => l.includes(secret))).toEqual([]);
  }
});

it('logs a client’s own mistakes below error level, so error lines mean something is wrong here', async () => {
  const from = lines.length;
  const serviceId = await createService(t, t.adminToken, 'log-levels');
  const bad = await t.gql(t.adminToken, 'mutation($id: ID!) { createDeployHook(input: {serviceId: $id, name: ""}) { url } }', { id: serviceId });
  expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  const missing = await t.gql(t.adminToken, 'mutation { cancelDeployment(id: "dep-nothing") { deployment { id } } }');
  expect(missing.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  await new Promise((resolve) => setTimeout(resolve, 100));
  const logged = lines.slice(from).map((l) => JSON.parse(l));
  expect(logged.some((l) => l.msg === 'graphql client error')).toBe(true);
  expect(logged.filter((l) => l.level >= 50)).toEqual([]);
});
