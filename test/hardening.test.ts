import net from 'node:net';
import fc from 'fast-check';
import { serverAudits } from 'graphql-http';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHook, createService, startTestApp, type TestApp } from './support/app.js';
import { rawSocket } from './support/graphql-ws.js';

let t: TestApp;
let db: pg.Client;
let serviceId: string;
let hook: { id: string; url: string; token: string };
let viewerToken: string;

/** Row counts of every table: a refused request must leave them all as they were. */
async function snapshot(): Promise<Record<string, number>> {
  const tables = ['organizations', 'api_tokens', 'services', 'deploy_hooks', 'deployments', 'deployment_events'];
  const counts: Record<string, number> = {};
  for (const table of tables) counts[table] = (await db.query(`select count(*)::int as n from ${table}`)).rows[0].n;
  const hooks = await db.query('select id, revoked_at, use_count from deploy_hooks order by id');
  counts.hookState = hooks.rows.reduce((sum, r) => sum + r.use_count + (r.revoked_at ? 1000 : 0), 0);
  return counts;
}

/** One raw HTTP/1.1 request, bytes exactly as given; resolves with the status code. */
function rawRequest(port: number, head: string, body = ''): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer within 5 s')));
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (match) {
        resolve(Number(match[1]));
        socket.destroy();
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed without an answer: ${JSON.stringify(data.slice(0, 100))}`)));
    socket.write(Buffer.from(head + body, 'latin1'));
  });
}

beforeAll(async () => {
  t = await startTestApp({ AUTH_FAILURE_LIMIT: '0', HOOK_RATE_LIMIT: '0', LOCAL_TEKTON: 'off' });
  db = new pg.Client({ connectionString: t.databaseUrl });
  await db.connect();
  serviceId = await createService(t, t.adminToken);
  hook = await createHook(t, t.adminToken, serviceId);
  const r = await t.gql(t.adminToken, 'mutation { createApiToken(input: {name: "viewer", role: VIEWER}) { token } }');
  viewerToken = r.data.createApiToken.token;
});
afterAll(async () => {
  await db?.end();
  await t?.stop();
});

describe('GraphQL over HTTP', () => {
  it('passes every MUST of the graphql-http server audits', async () => {
    const authorizedFetch: typeof fetch = (input, init) => {
      const headers = new Headers(init?.headers);
      headers.set('authorization', `Bearer ${t.adminToken}`);
      return fetch(input, { ...init, headers });
    };
    const audits = serverAudits({ url: `${t.app.url}/graphql`, fetchFn: authorizedFetch });
    const results = await Promise.all(audits.map((audit) => audit.fn()));
    const must = results.filter((r) => r.name.startsWith('MUST'));
    const failedMust = must.filter((r) => r.status !== 'ok');
    const should = results.filter((r) => !r.name.startsWith('MUST'));
    console.log(`graphql-http audits: ${must.length - failedMust.length}/${must.length} MUST passed, ${should.filter((r) => r.status === 'ok').length}/${should.length} SHOULD/MAY passed`);
    expect(must.length).toBeGreaterThan(10);
    expect(failedMust.map((r) => r.name)).toEqual([]);
  });

  it('refuses a mutation over GET with 405', async () => {
    const query = encodeURIComponent('mutation { createService(input: {name: "via-get", repoUrl: "https://github.com/a/b"}) { service { id } } }');
    const before = await snapshot();
    const res = await fetch(`${t.app.url}/graphql?query=${query}`, { headers: { authorization: `Bearer ${t.adminToken}` } });
    expect(res.status).toBe(405);
    expect(await snapshot()).toEqual(before);
  });

  it('runs nothing for a browser’s simple cross-site request (text/plain, form, multipart)', async () => {
    const mutation = 'mutation { createService(input: {name: "csrf", repoUrl: "https://github.com/a/b"}) { service { id } } }';
    const before = await snapshot();
    const form = new FormData();
    form.set('operations', JSON.stringify({ query: mutation }));
    form.set('map', '{}');
    const bodies: Array<[string | undefined, BodyInit]> = [
      ['text/plain', JSON.stringify({ query: mutation })],
      ['application/x-www-form-urlencoded', `query=${encodeURIComponent(mutation)}`],
      [undefined, form],
    ];
    for (const [type, body] of bodies) {
      const res = await fetch(`${t.app.url}/graphql`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.adminToken}`, ...(type ? { 'content-type': type } : {}) },
        body,
      });
      expect(res.status, String(type)).toBe(415);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('refuses over-deep, over-aliased, over-long and batched operations before running them', async () => {
    const deep = `{ services { edges { node { deployments { edges { node { service { deployments { edges { node { service { deployments { edges { node { id } } } } } } } } } } } } } } }`;
    const aliases = `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: viewer { role }`).join(' ')} }`;
    const tokens = `{ viewer { ${'role '.repeat(3_000)} } }`;
    for (const query of [deep, aliases, tokens]) {
      const r = await t.gql(t.adminToken, query);
      expect(r.data).toBeNull();
      expect(r.errors?.[0]?.message).toMatch(/depth|alias|token|cost/i);
    }
    const batch = await fetch(`${t.app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminToken}` },
      body: JSON.stringify([{ query: '{ viewer { role } }' }, { query: '{ viewer { role } }' }]),
    });
    expect(batch.status).toBeGreaterThanOrEqual(400);
    expect(batch.status).toBeLessThan(500);
  });

  it('refuses an over-limit operation on a WebSocket with an error for that operation, leaving the socket and its other subscriptions open', async () => {
    const deep = `{ services { edges { node { deployments { edges { node { service { deployments { edges { node { service { deployments { edges { node { id } } } } } } } } } } } } } } }`;
    const aliases = `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: viewer { role }`).join(' ')} }`;
    const s = await rawSocket(t.app.url);
    s.send({ type: 'connection_init', payload: { authorization: `Bearer ${t.adminToken}` } });
    expect((await s.next()).type).toBe('connection_ack');
    s.send({ id: 'live', type: 'subscribe', payload: { query: 'subscription($id: ID!) { deploymentEvents(serviceId: $id) { sequence status } }', variables: { id: serviceId } } });
    for (const [id, query] of [['deep', deep], ['aliases', aliases]] as const) {
      s.send({ id, type: 'subscribe', payload: { query } });
      const answer = await s.next();
      expect(answer).toMatchObject({ id, type: 'error' });
      expect(answer.payload[0].message).toMatch(/depth|alias/i);
    }
    s.send({ id: 'after', type: 'subscribe', payload: { query: '{ viewer { role } }' } });
    expect(await s.next()).toMatchObject({ id: 'after', type: 'next', payload: { data: { viewer: { role: 'ADMIN' } } } });
    expect(s.ws.readyState).toBe(s.ws.OPEN);
    s.ws.close();
  });

  it('counts page sizes passed as variables in the query cost, and lets a dashboard-sized query through', async () => {
    const nested = 'query($n: Int) { services(first: $n) { edges { node { deployments(first: $n) { edges { node { id logs } } } } } } }';
    const refused = await t.gql(t.adminToken, nested, { n: 100 });
    expect(refused.data).toBeNull();
    expect(refused.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect(refused.errors?.[0]?.message).toMatch(/complexity is \d+, above the limit of 5000/);
    const small = await t.gql(t.adminToken, nested, { n: 2 });
    expect(small.errors).toBeUndefined();
    const dashboard = await t.gql(
      t.adminToken,
      'query($n: Int) { deployments(first: $n) { edges { cursor node { id status reason message branch createdAt service { id name } hook { id name } events { sequence status at } } } pageInfo { hasNextPage endCursor } } }',
      { n: 50 },
    );
    expect(dashboard.errors).toBeUndefined();
  });

  it('masks internal errors and gives unauthenticated callers nothing to learn from', async () => {
    const unauthenticated = await t.gql(null, '{ servicez { id } }');
    expect(unauthenticated.status).toBe(401);
    expect(JSON.stringify(unauthenticated.errors)).not.toMatch(/Did you mean|servicez|services/);
    const authenticated = await t.gql(t.adminToken, '{ deployment(id: "x") { id } services(first: 101) { edges { cursor } } }');
    expect(authenticated.status).toBe(200);
    expect(authenticated.data).toBeNull(); // services is non-null, so its error nulls the whole result
    const text = JSON.stringify(authenticated.errors);
    expect(text).not.toMatch(/select|postgres|kysely|at \w+ \(|node_modules/i);
    expect(authenticated.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('abuse', () => {
  it('refuses a 50 MB body with 413 within a second and stays healthy', async () => {
    const started = Date.now();
    const res = await fetch(hook.url, { method: 'POST', body: Buffer.alloc(50 * 1024 * 1024, 97) }).catch((error) => error as Error);
    // The server answers 413 and closes; a client still sending may see the reset instead.
    if (res instanceof Response) expect(res.status).toBe(413);
    expect(Date.now() - started).toBeLessThan(1_000);
    const raw = await rawRequest(Number(new URL(t.app.url).port), `POST ${new URL(hook.url).pathname} HTTP/1.1\r\nhost: x\r\ncontent-length: 52428800\r\n\r\n`);
    expect(raw).toBe(413);
    expect((await fetch(`${t.app.url}/healthz`)).status).toBe(200);
  });

  it('answers requests that Node refuses to parse in the same JSON shape: 431 for an oversized request line, 400 for garbage', async () => {
    const port = Number(new URL(t.app.url).port);
    const answer = (head: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1', () => socket.write(head));
        let data = '';
        socket.on('data', (chunk) => (data += chunk.toString('latin1')));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
      });
    const long = await answer(`POST /hooks/${serviceId}/${'x'.repeat(20_000)} HTTP/1.1\r\nhost: x\r\n\r\n`);
    expect(long).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(long.slice(long.indexOf('\r\n\r\n') + 4))).toEqual({ error: 'the request line or headers are too large' });
    const garbage = await answer('\u0001\u0002 not http at all\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(garbage.slice(garbage.indexOf('\r\n\r\n') + 4))).toEqual({ error: 'malformed HTTP request' });
  });

  it('says what is wrong with a body that is not JSON, without echoing it or naming internals', async () => {
    const res = await fetch(`${t.app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminToken}` },
      body: '{"query": SECRET-LOOKING-BODY',
    });
    const text = await res.text();
    expect(res.status, text).toBe(400);
    expect(text).not.toContain('SECRET-LOOKING-BODY');
    expect(text).not.toMatch(/SyntaxError|Unexpected token|stack/);
    expect(JSON.parse(text).errors[0].message).toMatch(/JSON/);
  });

  it('refuses a badly shaped GraphQL request with a JSON error before parsing it: GET variables that are not JSON, a response media type as the body type, an oversized body', async () => {
    const auth = { authorization: `Bearer ${t.adminToken}` };
    const get = await fetch(`${t.app.url}/graphql?query=${encodeURIComponent('{ viewer { role } }')}&variables=SECRETx`, { headers: auth });
    expect(get.status).toBe(400);
    const getText = await get.text();
    expect(getText).not.toContain('SECRETx');
    expect(JSON.parse(getText).errors[0].message).toBe('variables must be a JSON object');
    const typed = await fetch(`${t.app.url}/graphql`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/graphql-response+json' },
      body: JSON.stringify({ query: '{ viewer { role } }' }),
    });
    expect(typed.status).toBe(415);
    expect((await typed.json()).errors[0].message).toMatch(/application\/json/);
    const big = await fetch(`${t.app.url}/graphql`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ viewer { role } }', variables: { pad: 'x'.repeat(2 * 1024 * 1024) } }),
    });
    expect(big.status).toBe(413);
    expect((await big.json()).errors[0].message).toMatch(/at most/);
    const port = Number(new URL(t.app.url).port);
    const chunked = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () =>
        socket.write(`POST /graphql HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${t.adminToken}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n5\r\n{"que\r\n`),
      );
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString('latin1')));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(chunked).toMatch(/^HTTP\/1\.1 411 /);
  });

  it('sends no CORS headers: only pages of its own origin (the live page) may read its answers', async () => {
    const preflight = await fetch(`${t.app.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.status).toBeLessThan(500);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();
    const res = await fetch(`${t.app.url}/graphql`, {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/json', authorization: `Bearer ${t.adminToken}` },
      body: JSON.stringify({ query: '{ viewer { role } }' }),
    });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers an ID holding a NUL character as a client error on every query, mutation and route, never an internal one', async () => {
    const nul = 'dep-\u0000';
    const operations: Array<[string, Record<string, unknown>]> = [
      ['query($id: ID!) { deployment(id: $id) { id } }', { id: nul }],
      ['query($id: ID!) { service(id: $id) { id } }', { id: nul }],
      ['query($id: ID!) { deployments(serviceId: $id) { edges { node { id } } } }', { id: nul }],
      ['mutation($id: ID!) { cancelDeployment(id: $id) { deployment { id } } }', { id: nul }],
      ['mutation($id: ID!) { revokeDeployHook(id: $id) { hook { id } } }', { id: nul }],
      ['mutation($id: ID!) { revokeApiToken(id: $id) { apiToken { id } } }', { id: nul }],
      ['mutation($id: ID!) { createDeployHook(input: {serviceId: $id, name: "x"}) { url } }', { id: nul }],
      ['mutation($id: ID!) { triggerDeployment(input: {serviceId: $id}) { deployment { id } } }', { id: nul }],
    ];
    const before = await snapshot();
    for (const [query, variables] of operations) {
      const r = await t.gql(t.adminToken, query, variables);
      expect(r.status, query).toBeLessThan(500);
      for (const error of r.errors ?? []) expect(error.extensions?.code, query).not.toBe('INTERNAL_SERVER_ERROR');
      expect(r.data?.deployment ?? r.data?.service ?? null, query).toBeNull();
    }
    const status = await fetch(`${hook.url}/deployments/dep-%00`);
    expect(status.status).toBeGreaterThanOrEqual(400);
    expect(status.status).toBeLessThan(500);
    const trigger = await fetch(`${t.app.url}/hooks/svc-%00/${hook.token}`, { method: 'POST' });
    expect(trigger.status).toBe(401);
    expect(await snapshot()).toEqual(before);
  });

  it('meets 300 wrong tokens in a row with 429 and stays healthy', async () => {
    const limited = await startTestApp({ AUTH_FAILURE_LIMIT: '30' });
    try {
      const svc = await createService(limited, limited.adminToken);
      const statuses: number[] = [];
      for (let i = 0; i < 300; i++) {
        const res = await fetch(`${limited.app.url}/hooks/${svc}/sbhook_${String(i).padStart(43, 'x')}`, { method: 'POST' });
        statuses.push(res.status);
      }
      expect(statuses.filter((s) => s === 401)).toHaveLength(30);
      expect(statuses.filter((s) => s === 429)).toHaveLength(270);
      const res = await fetch(`${limited.app.url}/hooks/${svc}/sbhook_${'y'.repeat(43)}`, { method: 'POST' });
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await fetch(`${limited.app.url}/healthz`)).status).toBe(200);
    } finally {
      await limited.stop();
    }
  });

  it('refuses a revoked API token at once, over HTTP and on a WebSocket it had already opened', async () => {
    const created = await t.gql(t.adminToken, 'mutation { createApiToken(input: {name: "short-lived", role: MEMBER}) { apiToken { id } token } }');
    const { apiToken, token } = created.data.createApiToken;
    expect((await t.gql(token, '{ viewer { role } }')).data.viewer.role).toBe('MEMBER');
    const s = await rawSocket(t.app.url);
    s.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
    expect((await s.next()).type).toBe('connection_ack');
    const revoked = await t.gql(t.adminToken, 'mutation($id: ID!) { revokeApiToken(id: $id) { apiToken { id revokedAt } } }', { id: apiToken.id });
    expect(revoked.data.revokeApiToken.apiToken.revokedAt).not.toBeNull();
    const after = await t.gql(token, '{ viewer { role } }');
    expect(after.status).toBe(401);
    expect(after.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    s.send({ id: 'late', type: 'subscribe', payload: { query: '{ viewer { role } }' } });
    const refused = await s.next();
    expect(refused).toMatchObject({ id: 'late', type: 'error' });
    // The status an HTTP answer would have is no part of a WebSocket message.
    expect(refused.payload).toEqual([{ message: expect.any(String), extensions: { code: 'UNAUTHENTICATED' } }]);
    s.ws.close();
  });
});

describe('generated hostile input (fast-check)', () => {
  const segment = fc.oneof(
    fc.string({ maxLength: 20 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.constantFrom('', '.', '..', '%', '%ZZ', '%00', '%2F', '%E0%A4%A', '\u00e9', '\ud83d\ude00', 'x'.repeat(300)),
  );

  it('the hook route never answers 5xx, and changes nothing unless it answers 202', async () => {
    let tried = 0;
    let fiveHundreds = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
        fc.oneof(fc.constant(serviceId), segment),
        fc.oneof(fc.constant(hook.token), fc.constant(hook.token.slice(0, -1) + 'Z'), segment),
        fc.array(fc.tuple(fc.constantFrom('branch', 'clear_cache', 'x', 'branch'), fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('main', 'true', '0', 'a..b', 'a\r\nb', '@{'))), { maxLength: 4 }),
        fc.option(fc.string({ maxLength: 300 })),
        fc.option(fc.uint8Array({ maxLength: 2_000 })),
        async (method, svc, token, params, idempotencyKey, body) => {
          const url = new URL(`${t.app.url}/hooks/`);
          url.pathname += `${encodeURIComponent(svc)}/${encodeURIComponent(token)}`;
          for (const [k, v] of params) url.searchParams.append(k, v);
          const headers: Record<string, string> = {};
          if (idempotencyKey !== null && /^[\x20-\x7e]*$/.test(idempotencyKey)) headers['idempotency-key'] = idempotencyKey;
          const before = await snapshot();
          const res = await fetch(url, { method, headers, body: body && method !== 'GET' && method !== 'HEAD' ? body : undefined });
          await res.arrayBuffer();
          tried += 1;
          if (res.status >= 500) fiveHundreds += 1;
          expect(res.status).toBeLessThan(500);
          if (res.status !== 202) expect(await snapshot()).toEqual(before);
        },
      ),
      { numRuns: 300 },
    );
    console.log(`hook route: ${tried} generated requests, ${fiveHundreds} answered 5xx`);
  });

  it('raw request lines with broken encodings, control characters and odd methods get a 4xx, never a 5xx', async () => {
    const port = Number(new URL(t.app.url).port);
    let tried = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('POST', 'GET', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'TRACE', 'CONNECT', 'FOO', 'post'),
        fc.array(fc.string({ unit: 'binary-ascii', maxLength: 30 }), { maxLength: 5 }),
        fc.constantFrom('', '?branch=%ZZ', '?branch=a%0d%0ab', '?clear_cache=%00', '?branch=main&branch=dev', `?${'a=b&'.repeat(500)}`),
        async (method, segments, query) => {
          const path = `/hooks/${segments.map((s) => s.replace(/[\s]/g, '')).join('/')}${query}`;
          const status = await rawRequest(port, `${method} ${path} HTTP/1.1\r\nhost: localhost\r\ncontent-length: 0\r\n\r\n`).catch(() => 400);
          tried += 1;
          expect(status).toBeGreaterThanOrEqual(400);
          expect(status).toBeLessThan(500);
        },
      ),
      { numRuns: 200 },
    );
    console.log(`raw requests: ${tried} generated, 0 answered 5xx`);
  });

  it('the GraphQL endpoint never answers 5xx, and a viewer token changes nothing whatever it sends', async () => {
    const operations = [
      'mutation { createService(input: {name: "$S", repoUrl: "$S"}) { service { id } } }',
      'mutation { createDeployHook(input: {serviceId: "$ID", name: "$S"}) { url } }',
      'mutation { revokeDeployHook(id: "$ID") { hook { id } } }',
      'mutation { triggerDeployment(input: {serviceId: "$ID", branch: "$S"}) { deployment { id } } }',
      'mutation { cancelDeployment(id: "$ID") { deployment { id } } }',
      'mutation { createApiToken(input: {name: "$S", role: ADMIN}) { token } }',
      'mutation { createOrganization(input: {name: "$S"}) { adminToken } }',
      'mutation { revokeApiToken(id: "$ID") { apiToken { id } } }',
      '{ service(id: "$ID") { id } deployments(first: $N, after: "$S") { edges { cursor } } }',
      '{ services(last: $N, before: "$S") { pageInfo { hasNextPage } } }',
    ];
    let tried = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...operations),
        fc.string({ maxLength: 40 }),
        fc.oneof(fc.constant(serviceId), fc.constant(hook.id), fc.string({ maxLength: 20 })),
        fc.integer({ min: -5, max: 500 }),
        fc.boolean(),
        async (template, text, id, n, garble) => {
          let query = template.replaceAll('$S', JSON.stringify(text).slice(1, -1)).replaceAll('$ID', JSON.stringify(id).slice(1, -1)).replaceAll('$N', String(n));
          if (garble) query = query.slice(0, Math.max(1, query.length - text.length - 3));
          const before = await snapshot();
          const res = await fetch(`${t.app.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${viewerToken}` },
            body: JSON.stringify({ query }),
          });
          const body = await res.json();
          tried += 1;
          expect(res.status).toBeLessThan(500);
          for (const error of body.errors ?? []) expect(error.extensions?.code).not.toBe('INTERNAL_SERVER_ERROR');
          expect(await snapshot()).toEqual(before);
        },
      ),
      { numRuns: 300 },
    );
    console.log(`graphql: ${tried} generated operations with a viewer token, 0 answered 5xx, 0 changed state`);
  });
});
