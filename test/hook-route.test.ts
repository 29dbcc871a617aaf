import http from 'node:http';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHook, createService, startTestApp, type TestApp } from './support/app.js';

let t: TestApp;
let serviceId: string;
let hook: { id: string; url: string; token: string };
let db: pg.Client;

async function countDeployments(): Promise<number> {
  const { rows } = await db.query('select count(*)::int as n from deployments');
  return rows[0].n;
}

beforeAll(async () => {
  t = await startTestApp();
  serviceId = await createService(t, t.adminToken);
  hook = await createHook(t, t.adminToken, serviceId);
  db = new pg.Client({ connectionString: t.databaseUrl });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
  await t?.stop();
});

describe('POST /hooks/{serviceId}/{token}', () => {
  it('answers 202 with the deployment, a Location and a status URL that reads it back', async () => {
    const res = await fetch(hook.url, { method: 'POST' });
    expect(res.status).toBe(202);
    const body = await res.json();
    expect(body).toMatchObject({ status: 'queued', serviceId, branch: 'main', clearCache: false });
    expect(body.id).toMatch(/^[a-z][a-z0-9-]{0,38}[a-z0-9]$/);
    expect(new Date(body.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(body.statusUrl).toBe(`${hook.url}/deployments/${body.id}`);
    expect(res.headers.get('location')).toBe(body.statusUrl);

    const status = await fetch(body.statusUrl);
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ id: body.id, status: 'queued', serviceId, branch: 'main' });

    const { rows } = await db.query('select status, hook_id, last_sequence from deployments where id = $1', [body.id]);
    expect(rows).toEqual([{ status: 'QUEUED', hook_id: hook.id, last_sequence: 1 }]);
    const events = await db.query('select sequence, status from deployment_events where deployment_id = $1', [body.id]);
    expect(events.rows).toEqual([{ sequence: 1, status: 'QUEUED' }]);
  });

  it('gives every deployment a distinct, valid Kubernetes name', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const body = await (await fetch(hook.url, { method: 'POST' })).json();
      expect(body.id.length).toBeLessThanOrEqual(40);
      expect(body.id).toMatch(/^[a-z]([-a-z0-9]*[a-z0-9])?$/);
      ids.add(body.id);
    }
    expect(ids.size).toBe(20);
  });

  it('takes branch and clear_cache from the query, stripping refs/heads/', async () => {
    const cases: Array<[string, string, boolean]> = [
      ['?branch=refs/heads/feature/login&clear_cache=true', 'feature/login', true],
      ['?branch=release-1.2&clear_cache=0', 'release-1.2', false],
      ['?clear_cache=1', 'main', true],
      ['?branch=fix%2Fa_b&clear_cache=FALSE', 'fix/a_b', false],
    ];
    for (const [query, branch, clearCache] of cases) {
      const res = await fetch(hook.url + query, { method: 'POST' });
      expect(res.status, query).toBe(202);
      expect(await res.json()).toMatchObject({ branch, clearCache });
    }
  });

  it('refuses invalid branch names with 400 naming the parameter, writing nothing', async () => {
    const bad = [
      'a..b', '-rf', '.hidden', 'a/.b', 'x.lock', 'a/b.lock/c', 'a b', 'a~1', 'a^', 'a:b', 'a?', 'a*', 'a[b', 'a\\b',
      'a@{1}', '@', 'a//b', 'trailing/', '/leading', 'dot.', 'tab\there', 'nl\nx', 'cr\rx', 'nul\u0000x', 'del\u007fx',
      'x'.repeat(256), 'refs/heads/', '',
    ];
    const before = await countDeployments();
    for (const branch of bad) {
      const res = await fetch(`${hook.url}?branch=${encodeURIComponent(branch)}`, { method: 'POST' });
      expect(res.status, JSON.stringify(branch)).toBe(400);
      expect((await res.json()).field).toBe('branch');
    }
    // Bytes that are not UTF-8 would decode to U+FFFD, a branch nobody named.
    for (const raw of ['%FF', 'main%FF', 'feature/%C3', '%EF%BF%BD']) {
      const res = await fetch(`${hook.url}?branch=${raw}`, { method: 'POST' });
      expect(res.status, raw).toBe(400);
      expect((await res.json()).field).toBe('branch');
    }
    expect(await countDeployments()).toBe(before);
  });

  it('refuses a bad clear_cache and repeated parameters with 400', async () => {
    for (const query of ['?clear_cache=yes', '?clear_cache=', '?clear_cache=2', '?branch=a&branch=b', '?clear_cache=1&clear_cache=0']) {
      const res = await fetch(hook.url + query, { method: 'POST' });
      expect(res.status, query).toBe(400);
      const body = await res.json();
      expect(['branch', 'clear_cache']).toContain(body.field);
      expect(body.error).toContain(body.field);
    }
  });

  it('answers one identical 401 for an unknown service, a wrong token and a revoked hook, before writing anything', async () => {
    const other = await createHook(t, t.adminToken, serviceId, 'to revoke');
    const revoked = await t.gql(t.adminToken, 'mutation($id: ID!) { revokeDeployHook(id: $id) { hook { id revokedAt } } }', { id: other.id });
    expect(revoked.data.revokeDeployHook.hook.revokedAt).not.toBeNull();
    const otherService = await createService(t, t.adminToken, 'other');
    const wrongToken = hook.token.slice(0, -1) + (hook.token.endsWith('A') ? 'B' : 'A');
    const base = hook.url.slice(0, hook.url.indexOf('/hooks/'));
    const urls = [
      `${base}/hooks/svc_doesnotexist/${hook.token}`,
      `${base}/hooks/${otherService}/${hook.token}`,
      `${base}/hooks/${serviceId}/${wrongToken}`,
      `${base}/hooks/${serviceId}/not-even-a-token`,
      `${base}/hooks/${'s'.repeat(2_000)}/${hook.token}`,
      `${base}/hooks/${serviceId}/${hook.token}${'x'.repeat(2_000)}`,
      other.url,
    ];
    const before = await countDeployments();
    const hookBefore = await db.query('select use_count from deploy_hooks where id = $1', [hook.id]);
    const answers = [];
    for (const url of urls) {
      const res = await fetch(url, { method: 'POST', body: '{"ref":"refs/heads/main"}' });
      answers.push({ status: res.status, body: await res.text() });
    }
    expect(answers[0]!.status).toBe(401);
    for (const answer of answers) expect(answer).toEqual(answers[0]);
    expect(await countDeployments()).toBe(before);
    const hookAfter = await db.query('select use_count from deploy_hooks where id = $1', [hook.id]);
    expect(hookAfter.rows).toEqual(hookBefore.rows);
  });

  it('answers 405 with Allow: POST for other methods', async () => {
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const res = await fetch(hook.url, { method });
      expect(res.status, method).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
    }
  });

  it('reads and ignores a body up to 1 MiB (a GitHub push event works)', async () => {
    const push = JSON.stringify({ ref: 'refs/heads/main', commits: [{ id: 'a'.repeat(40) }], padding: 'x'.repeat(900_000) });
    const res = await fetch(hook.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'push' }, body: push });
    expect(res.status).toBe(202);
  });

  it('refuses a body above 1 MiB with 413, declared or streamed, and writes nothing', async () => {
    const before = await countDeployments();
    const declared = await fetch(hook.url, { method: 'POST', body: Buffer.alloc(1024 * 1024 + 1, 120) });
    expect(declared.status).toBe(413);

    // Chunked, with no Content-Length: the limit applies while reading.
    const url = new URL(hook.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST' }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(256 * 1024, 121);
      let sent = 0;
      const pump = () => {
        while (sent < 8 && req.write(chunk)) sent++;
        if (sent < 8) req.once('drain', pump);
        else req.end();
      };
      pump();
    });
    expect(status).toBe(413);
    expect(await countDeployments()).toBe(before);
  });

  it('returns the same deployment for a repeated Idempotency-Key, and a new one for a new key', async () => {
    const key = `deploy-${Date.now()}`;
    const first = await (await fetch(hook.url, { method: 'POST', headers: { 'idempotency-key': key } })).json();
    const before = await countDeployments();
    const again = await fetch(hook.url, { method: 'POST', headers: { 'idempotency-key': key } });
    expect(again.status).toBe(202);
    expect((await again.json()).id).toBe(first.id);
    expect(await countDeployments()).toBe(before);

    const concurrent = await Promise.all(
      Array.from({ length: 8 }, () => fetch(hook.url, { method: 'POST', headers: { 'idempotency-key': `${key}-race` } }).then((r) => r.json())),
    );
    expect(new Set(concurrent.map((b) => b.id)).size).toBe(1);
    const other = await (await fetch(hook.url, { method: 'POST', headers: { 'idempotency-key': `${key}-2` } })).json();
    expect(other.id).not.toBe(first.id);
  });

  it('refuses to reuse an Idempotency-Key for a different request with 422, creating nothing', async () => {
    const key = `reuse-${Date.now()}`;
    const first = await fetch(`${hook.url}?branch=feature/a`, { method: 'POST', headers: { 'idempotency-key': key } });
    expect(first.status).toBe(202);
    const before = await countDeployments();
    for (const query of ['?branch=feature/b', '?branch=feature/a&clear_cache=true']) {
      const res = await fetch(hook.url + query, { method: 'POST', headers: { 'idempotency-key': key } });
      expect(res.status, query).toBe(422);
      expect(await res.json()).toMatchObject({ field: 'Idempotency-Key' });
    }
    // The same request again (the branch may be left to default only if it was the default) is a retry.
    const again = await fetch(`${hook.url}?branch=refs/heads/feature/a`, { method: 'POST', headers: { 'idempotency-key': key } });
    expect(again.status).toBe(202);
    expect((await again.json()).id).toBe((await first.json()).id);
    expect(await countDeployments()).toBe(before);
  });

  it('refuses a malformed Idempotency-Key with 400', async () => {
    const res = await fetch(hook.url, { method: 'POST', headers: { 'idempotency-key': 'x'.repeat(300) } });
    expect(res.status).toBe(400);
    expect((await res.json()).field).toBe('Idempotency-Key');
  });

  it('records the hook audit trail: last used time, address and use count', async () => {
    const before = (await db.query('select use_count from deploy_hooks where id = $1', [hook.id])).rows[0].use_count;
    const started = Date.now();
    await fetch(hook.url, { method: 'POST' });
    const { rows } = await db.query('select use_count, last_used_ip, last_used_at from deploy_hooks where id = $1', [hook.id]);
    expect(rows[0].use_count).toBe(before + 1);
    expect(rows[0].last_used_ip).toBe('127.0.0.1');
    expect(rows[0].last_used_at.getTime()).toBeGreaterThanOrEqual(started - 1000);
  });

  it('answers 404 on the status URL for a deployment of another service, and 401 with a wrong token', async () => {
    const otherService = await createService(t, t.adminToken, 'status-other');
    const otherHook = await createHook(t, t.adminToken, otherService);
    const deployment = await (await fetch(otherHook.url, { method: 'POST' })).json();
    const viaWrongHook = await fetch(`${hook.url}/deployments/${deployment.id}`);
    expect(viaWrongHook.status).toBe(404);
    const wrongToken = await fetch(deployment.statusUrl.replace(otherHook.token, hook.token));
    expect(wrongToken.status).toBe(401);
    const post = await fetch(deployment.statusUrl, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('answers odd paths with a 4xx', async () => {
    const base = hook.url.slice(0, hook.url.indexOf('/hooks/'));
    const cases: Array<[string, number]> = [
      [`${hook.url}/`, 404],
      [`${base}/hooks/${serviceId}`, 404],
      [`${base}/hooks/${serviceId}/%E0%A4%A`, 400],
      [`${base}/hooks//${hook.token}`, 404],
      [`${base}/hooks/${serviceId}/${hook.token}/extra`, 404],
    ];
    for (const [url, status] of cases) {
      const res = await fetch(url, { method: 'POST' });
      expect(res.status, url).toBe(status);
      expect(res.headers.get('content-type')).toContain('application/json');
    }
  });
});

describe('rate limits', () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await startTestApp({ HOOK_RATE_LIMIT: '3', AUTH_FAILURE_LIMIT: '5' });
  });
  afterAll(async () => limited?.stop());

  it('answers 429 with Retry-After once a hook has used its calls for the minute', async () => {
    const svc = await createService(limited, limited.adminToken);
    const h = await createHook(limited, limited.adminToken, svc);
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await fetch(h.url, { method: 'POST' })).status);
    expect(statuses).toEqual([202, 202, 202, 429, 429]);
    const res = await fetch(h.url, { method: 'POST' });
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('answers 429 to an address after repeated failed authentications, hooks and API alike', async () => {
    const svc = await createService(limited, limited.adminToken, 'auth-limit');
    const statuses = [];
    for (let i = 0; i < 7; i++) {
      statuses.push((await fetch(`${limited.app.url}/hooks/${svc}/sbhook_${'x'.repeat(43)}`, { method: 'POST' })).status);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    const api = await limited.gql('sbapi_wrong', '{ viewer { role } }');
    expect(api.status).toBe(429);
  });
});

describe('behind a reverse proxy (TRUST_PROXY=1)', () => {
  let proxied: TestApp;
  beforeAll(async () => {
    proxied = await startTestApp({ TRUST_PROXY: '1', AUTH_FAILURE_LIMIT: '2' });
  });
  afterAll(async () => proxied?.stop());

  it('counts failures and records use per forwarded client, not per proxy, and ignores spoofed entries', async () => {
    const svc = await createService(proxied, proxied.adminToken);
    const wrong = `${proxied.app.url}/hooks/${svc}/sbhook_${'q'.repeat(43)}`;
    const from = (client: string) => fetch(wrong, { method: 'POST', headers: { 'x-forwarded-for': client } }).then((r) => r.status);
    expect([await from('203.0.113.7'), await from('203.0.113.7'), await from('203.0.113.7')]).toEqual([401, 401, 429]);
    // Another client behind the same proxy keeps its own budget, whatever it claims further left.
    expect(await from('198.51.100.1, 203.0.113.9')).toBe(401);
    const good = await createHook(proxied, proxied.adminToken, svc);
    await fetch(good.url, { method: 'POST', headers: { 'x-forwarded-for': '192.0.2.44' } });
    const client = new pg.Client({ connectionString: proxied.databaseUrl });
    await client.connect();
    const { rows } = await client.query('select last_used_ip from deploy_hooks where id = $1', [good.id]);
    await client.end();
    expect(rows[0].last_used_ip).toBe('192.0.2.44');
  });
});
