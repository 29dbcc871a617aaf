import { createHash, randomBytes } from 'node:crypto';
import { getNamedType, isObjectType, type GraphQLObjectType } from 'graphql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHook, createOrganization, createService, startTestApp, type GraphQLResult, type TestApp } from './support/app.js';
import { fetchLiveSchema, loadSchemaFile, rootFieldNames, selectEverything } from './support/graphql-schema.js';

// The GraphQL API as DESIGN.md section 5 describes it, over real HTTP against the real app.
// PUBLIC_URL differs from the listen address so hook URLs are provably built from it.
const PUBLIC_URL = 'https://deploy.stackblaze.test';
const schema = loadSchemaFile();

const SERVICE_FIELDS = 'id name slug repoUrl defaultBranch pipelineName createdAt';
const CREATE_SERVICE = `mutation($input: CreateServiceInput!) { createService(input: $input) { service { ${SERVICE_FIELDS} } } }`;
const CREATE_HOOK = `mutation($input: CreateDeployHookInput!) {
  createDeployHook(input: $input) { hook { id name createdAt revokedAt tokenPrefix useCount service { id } } url token }
}`;
const REVOKE_HOOK = 'mutation($id: ID!) { revokeDeployHook(id: $id) { hook { id revokedAt } } }';
const TRIGGER = `mutation($input: TriggerDeploymentInput!) {
  triggerDeployment(input: $input) {
    deployment { id status branch clearCache hook { id } triggeredBy { id name role } service { id } events { sequence status previousStatus } }
  }
}`;
const CANCEL = 'mutation($id: ID!) { cancelDeployment(id: $id) { deployment { id status events { sequence status previousStatus } } } }';
const CREATE_TOKEN = 'mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { apiToken { id name role tokenPrefix createdAt } token } }';
const REVOKE_TOKEN = 'mutation($id: ID!) { revokeApiToken(id: $id) { apiToken { id revokedAt } } }';
const API_TOKENS = '{ apiTokens { id name role tokenPrefix createdAt lastUsedAt revokedAt } }';
const CREATE_ORG = 'mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id name createdAt } adminToken } }';
const VIEWER = '{ viewer { role platformAdmin organization { id name } } }';
const SERVICES_PAGE = `query($first: Int, $after: String, $last: Int, $before: String) {
  services(first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { id createdAt } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;
const DEPLOYMENTS_PAGE = `query($serviceId: ID, $first: Int, $after: String, $last: Int, $before: String) {
  deployments(serviceId: $serviceId, first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { id createdAt service { id } } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

let t: TestApp;
let db: pg.Client;

beforeAll(async () => {
  t = await startTestApp({ PUBLIC_URL, LOCAL_TEKTON: 'off' });
  db = new pg.Client({ connectionString: t.databaseUrl });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
  await t?.stop();
});

const sha256 = (value: string) => createHash('sha256').update(value).digest();
const base64url = (value: string) => Buffer.from(value).toString('base64url');

/** A hook URL is built on PUBLIC_URL; the test reaches the same path on the listen address. */
function reachable(url: string): string {
  expect(url.startsWith(`${PUBLIC_URL}/hooks/`), url).toBe(true);
  return t.app.url + url.slice(PUBLIC_URL.length);
}

function postHook(url: string, query = ''): Promise<Response> {
  return fetch(reachable(url) + query, { method: 'POST' });
}

/** The single error of a result, which must carry `code` (and name `field` when given). */
function expectError(r: GraphQLResult<unknown>, code: string, field?: string) {
  expect(r.errors, JSON.stringify(r)).toHaveLength(1);
  const error = r.errors![0]!;
  expect(error.extensions?.code, error.message).toBe(code);
  if (field !== undefined) {
    expect(error.extensions?.field, error.message).toBe(field);
    expect(error.message).toContain(field);
  }
  return error;
}

function expectNoErrors<T>(r: GraphQLResult<T>): T {
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data!;
}

async function mintToken(token: string, role: 'ADMIN' | 'MEMBER' | 'VIEWER', name = `${role.toLowerCase()} token`) {
  const r = await t.gql(token, CREATE_TOKEN, { input: { name, role } });
  const { createApiToken } = expectNoErrors(r);
  return { id: createApiToken.apiToken.id as string, token: createApiToken.token as string, apiToken: createApiToken.apiToken };
}

async function count(table: string, where = 'true', params: unknown[] = []): Promise<number> {
  const { rows } = await db.query(`select count(*)::int as n from ${table} where ${where}`, params);
  return rows[0].n;
}

/**
 * Every row a caller could have changed. Left out: api_tokens.last_used_at (authentication
 * records it) and the deployment columns the dispatcher and the PipelineRun watch own.
 */
async function snapshotDatabase() {
  const queries = {
    organizations: 'select * from organizations order by id',
    api_tokens: 'select id, organization_id, name, role, platform_admin, token_hash, token_prefix, created_at, revoked_at from api_tokens order by id',
    services: 'select * from services order by id',
    deploy_hooks: 'select * from deploy_hooks order by id',
    deployments: 'select id, organization_id, service_id, hook_id, triggered_by_token_id, branch, clear_cache, idempotency_key, created_at from deployments order by id',
    first_events: 'select * from deployment_events where sequence = 1 order by deployment_id',
    cancellations: "select deployment_id, sequence from deployment_events where status in ('CANCELLING', 'CANCELLED') order by 1, 2",
  };
  const snapshot: Record<string, unknown[]> = {};
  for (const [name, query] of Object.entries(queries)) snapshot[name] = (await db.query(query)).rows;
  return snapshot;
}

type Connection = {
  edges: Array<{ cursor: string; node: { id: string; createdAt: string } }>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
};

function expectConsistentPage(page: Connection) {
  expect(page.pageInfo.startCursor).toBe(page.edges[0]?.cursor ?? null);
  expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
  const times = page.edges.map((e) => Date.parse(e.node.createdAt));
  expect(times).toEqual([...times].sort((a, b) => b - a));
}

describe('authentication', () => {
  async function rawPost(headers: Record<string, string>, query: string) {
    const res = await fetch(`${t.app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }

  function expectUnauthenticated(answer: { status: number; body: Record<string, any> }, label: string) {
    expect(answer.status, label).toBe(401);
    expect('data' in answer.body, label).toBe(false);
    expect(answer.body.errors, label).toHaveLength(1);
    expect(answer.body.errors[0].extensions.code, label).toBe('UNAUTHENTICATED');
  }

  it('answers 401 UNAUTHENTICATED with no data without a token, with a malformed header, or with a wrong token, and writes nothing', async () => {
    const headers: Array<Record<string, string>> = [
      {},
      { authorization: '' },
      { authorization: 'Bearer' },
      { authorization: 'Bearer ' },
      { authorization: `Basic ${base64url('admin:admin')}` },
      { authorization: `Token ${t.adminToken}` },
      { authorization: `Bearer ${t.adminToken} extra` },
      { authorization: `Bearer ${t.adminToken}x` },
      { authorization: `Bearer ${'x'.repeat(600)}` },
      { authorization: `Bearer sbapi_${randomBytes(32).toString('base64url')}` },
    ];
    const servicesBefore = await count('services');
    for (const header of headers) {
      const label = JSON.stringify(header);
      expectUnauthenticated(await rawPost(header, '{ viewer { role } }'), label);
      expectUnauthenticated(await rawPost(header, 'mutation { createService(input: {name: "sneaky", repoUrl: "https://github.com/x/y"}) { service { id } } }'), label);
    }
    expect(await count('services')).toBe(servicesBefore);
  });

  it('refuses a token once it is revoked', async () => {
    const member = await mintToken(t.adminToken, 'MEMBER', 'soon revoked');
    expect(expectNoErrors(await t.gql(member.token, VIEWER)).viewer.role).toBe('MEMBER');
    expectNoErrors(await t.gql(t.adminToken, REVOKE_TOKEN, { id: member.id }));
    expectUnauthenticated(await rawPost({ authorization: `Bearer ${member.token}` }, '{ viewer { role } }'), 'revoked');
  });

  it('serves queries over GET but refuses mutations over GET', async () => {
    const get = (query: string) =>
      fetch(`${t.app.url}/graphql?query=${encodeURIComponent(query)}`, { headers: { authorization: `Bearer ${t.adminToken}` } });
    const query = await get('{ viewer { role } }');
    expect(query.status).toBe(200);
    expect((await query.json()).data.viewer.role).toBe('ADMIN');

    const before = await count('services');
    const mutation = await get('mutation { createService(input: {name: "via-get", repoUrl: "https://github.com/x/y"}) { service { id } } }');
    expect(mutation.status).toBe(405);
    expect(await count('services')).toBe(before);
  });
});

describe('viewer', () => {
  it("names the bootstrap token's role, platform administration and organization", async () => {
    const { viewer } = expectNoErrors(await t.gql(t.adminToken, VIEWER));
    const { rows } = await db.query('select organization_id from api_tokens where token_hash = $1', [sha256(t.adminToken)]);
    expect(viewer).toEqual({ role: 'ADMIN', platformAdmin: true, organization: { id: rows[0].organization_id, name: 'Default' } });
  });
});

describe('createOrganization', () => {
  it('lets the platform administrator create an organization whose admin token works there, stored only as a hash', async () => {
    const r = await t.gql(t.adminToken, CREATE_ORG, { input: { name: '  Acme Corp ' } });
    const { organization, adminToken } = expectNoErrors(r).createOrganization;
    expect(organization.name).toBe('Acme Corp');
    expect(adminToken).toMatch(/^sbapi_[A-Za-z0-9_-]{43}$/);

    const { viewer } = expectNoErrors(await t.gql(adminToken, VIEWER));
    expect(viewer).toEqual({ role: 'ADMIN', platformAdmin: false, organization: { id: organization.id, name: 'Acme Corp' } });
    expect(expectNoErrors(await t.gql(adminToken, SERVICES_PAGE)).services.edges).toEqual([]);

    const { rows } = await db.query('select token_hash, row_to_json(api_tokens)::text as row from api_tokens where organization_id = $1', [organization.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0].token_hash).toEqual(sha256(adminToken));
    expect(rows[0].row).not.toContain(adminToken.slice('sbapi_'.length, 20));
  });

  it("refuses every other token with FORBIDDEN, an organization's own admin included, creating nothing", async () => {
    const org = await createOrganization(t, 'Not a platform');
    const tokens = {
      "another organization's admin": org.adminToken,
      'an ADMIN of the default organization': (await mintToken(t.adminToken, 'ADMIN')).token,
      'a MEMBER': (await mintToken(t.adminToken, 'MEMBER')).token,
      'a VIEWER': (await mintToken(t.adminToken, 'VIEWER')).token,
    };
    const before = await count('organizations');
    for (const [who, token] of Object.entries(tokens)) {
      const r = await t.gql(token, CREATE_ORG, { input: { name: `by ${who}` } });
      expect(r.data, who).toBeNull();
      expect(expectError(r, 'FORBIDDEN').message, who).not.toContain('Unexpected');
    }
    expect(await count('organizations')).toBe(before);
  });

  it('refuses an empty or overlong name with BAD_USER_INPUT naming it', async () => {
    const before = await count('organizations');
    for (const name of ['', '   ', 'x'.repeat(101), 'line\nbreak']) {
      expectError(await t.gql(t.adminToken, CREATE_ORG, { input: { name } }), 'BAD_USER_INPUT', 'name');
    }
    expect(await count('organizations')).toBe(before);
  });
});

describe('createService', () => {
  const create = (input: Record<string, unknown>, token = t.adminToken) => t.gql(token, CREATE_SERVICE, { input });

  it('creates a service with its defaults, readable through service(id)', async () => {
    const { service } = expectNoErrors(await create({ name: 'Web App', repoUrl: 'https://github.com/acme/web.git' })).createService;
    expect(service).toMatchObject({
      name: 'Web App',
      slug: 'web-app',
      repoUrl: 'https://github.com/acme/web.git',
      defaultBranch: 'main',
      pipelineName: 'stackblaze-build',
    });
    expect(service.id).toMatch(/^svc_/);
    const read = expectNoErrors(await t.gql(t.adminToken, `query($id: ID!) { service(id: $id) { ${SERVICE_FIELDS} } }`, { id: service.id }));
    expect(read.service).toEqual(service);
  });

  it('takes an explicit default branch (refs/heads/ stripped) and pipeline name', async () => {
    const { service } = expectNoErrors(
      await create({ name: 'api', repoUrl: 'git@github.com:acme/api.git', defaultBranch: 'refs/heads/develop', pipelineName: 'node-build' }),
    ).createService;
    expect(service).toMatchObject({ defaultBranch: 'develop', pipelineName: 'node-build', repoUrl: 'git@github.com:acme/api.git' });
  });

  it('accepts https://, ssh:// and git@host:path repository URLs', async () => {
    const accepted = [
      'https://github.com/acme/web.git',
      'https://gitlab.example.com:8443/group/sub/repo',
      'ssh://git@github.com/acme/web.git',
      'ssh://git@git.example.com:2222/acme/web.git',
      'git@github.com:acme/web.git',
      'deploy@git.example.com:group/sub/repo.git',
    ];
    for (const [i, repoUrl] of accepted.entries()) {
      const r = await create({ name: `repo ${i}`, repoUrl });
      expect(expectNoErrors(r).createService.service.repoUrl, repoUrl).toBe(repoUrl);
    }
  });

  it('refuses other schemes, credentials and spaces in repoUrl with BAD_USER_INPUT naming the field, writing nothing', async () => {
    const refused = [
      'http://github.com/acme/web.git',
      'file:///srv/git/web.git',
      'javascript:alert(1)',
      'ftp://github.com/acme/web.git',
      'ext::sh -c id',
      'https://user:secret@github.com/acme/web.git',
      'https://ghp_abcdef0123456789@github.com/acme/web.git',
      'ssh://git:secret@github.com/acme/web.git',
      'ssh://:secret@github.com/acme/web.git',
      'https://github.com/acme/my repo.git',
      ' https://github.com/acme/web.git\t x',
      'git@github.com:acme/web.git; rm -rf /',
      'ssh://-oProxyCommand=touch%20pwned/acme/web.git',
      'ssh://git@-oProxyCommand=x/acme/web.git',
      'ssh://-oUser@github.com/acme/web.git',
      '-oProxyCommand=x@github.com:acme/web.git',
      '-oProxy@github.com:acme/web.git',
      'git@-oProxy:acme/web.git',
      'github.com/acme/web',
      'https://github.com',
      'git@github.com:',
      '',
    ];
    const before = await count('services');
    for (const repoUrl of refused) {
      const r = await create({ name: 'refused', repoUrl });
      expect(r.data, repoUrl).toBeNull();
      expectError(r, 'BAD_USER_INPUT', 'repoUrl');
    }
    expect(await count('services')).toBe(before);
  });

  it('refuses a bad name, defaultBranch or pipelineName with BAD_USER_INPUT naming the field', async () => {
    const repoUrl = 'https://github.com/acme/x.git';
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: '' }, 'name'],
      [{ name: '   ' }, 'name'],
      [{ name: '!!!' }, 'name'],
      [{ name: 'x'.repeat(101) }, 'name'],
      [{ name: 'tab\there' }, 'name'],
      ...['', 'a..b', '-rf', 'HEAD', 'a b', 'x.lock', 'feature/', 'a~1'].map(
        (defaultBranch): [Record<string, unknown>, string] => [{ name: 'ok', defaultBranch }, 'defaultBranch'],
      ),
      ...['', 'Upper', '-lead', 'under_score', 'x'.repeat(64)].map(
        (pipelineName): [Record<string, unknown>, string] => [{ name: 'ok', pipelineName }, 'pipelineName'],
      ),
    ];
    const before = await count('services');
    for (const [input, field] of cases) {
      expectError(await create({ repoUrl, ...input }), 'BAD_USER_INPUT', field);
    }
    expect(await count('services')).toBe(before);
  });

  it('answers CONFLICT for a name the organization already uses, however it is spelled', async () => {
    expectNoErrors(await create({ name: 'Billing', repoUrl: 'https://github.com/acme/billing' }));
    const before = await count('services');
    for (const name of ['Billing', 'billing', ' BILLING! ']) {
      const r = await create({ name, repoUrl: 'https://github.com/acme/other' });
      expect(r.data, name).toBeNull();
      expectError(r, 'CONFLICT');
    }
    expect(await count('services')).toBe(before);
  });
});

describe('service and services', () => {
  let org: { id: string; adminToken: string };
  /** The 25 services, newest first: the order the API promises. */
  let expected: string[];

  const page = async (args: Record<string, unknown>) => {
    const data = expectNoErrors(await t.gql(org.adminToken, SERVICES_PAGE, args));
    expectConsistentPage(data.services);
    return data.services as Connection;
  };
  const ids = (c: Connection) => c.edges.map((e) => e.node.id);

  beforeAll(async () => {
    org = await createOrganization(t, 'Paging');
    const created = await Promise.all(Array.from({ length: 25 }, (_, i) => createService(t, org.adminToken, `svc-${i}`)));
    // Under load many rows share a millisecond: five groups of five identical creation times make
    // the id tie-break carry the order across page boundaries.
    await db.query(
      `update services s set created_at = '2026-01-01T00:00:00Z'::timestamptz + (n.i / 5) * interval '1 millisecond'
       from (select id, row_number() over (order by id) - 1 as i from services where organization_id = $1) n
       where s.id = n.id`,
      [org.id],
    );
    const { rows } = await db.query('select id from services where organization_id = $1 order by created_at desc, id desc', [org.id]);
    expected = rows.map((r) => r.id);
    expect(new Set(expected)).toEqual(new Set(created));
  });

  it('reads one service by id; an unknown id reads as null without an error', async () => {
    const q = 'query($id: ID!) { service(id: $id) { id name } }';
    expect(expectNoErrors(await t.gql(org.adminToken, q, { id: expected[3] })).service).toEqual({ id: expected[3], name: expect.stringMatching(/^svc-/) });
    for (const id of ['svc_aaaaaaaaaaaaaaaaaaaaaaaaaa', 'nope', '']) {
      expect(expectNoErrors(await t.gql(org.adminToken, q, { id })).service, id).toBeNull();
    }
  });

  it('pages forward with first/after through 25 services without gaps or repeats', async () => {
    const p1 = await page({ first: 10 });
    expect(p1.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const p2 = await page({ first: 10, after: p1.pageInfo.endCursor });
    expect(p2.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    const p3 = await page({ first: 10, after: p2.pageInfo.endCursor });
    expect(p3.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    expect([...ids(p1), ...ids(p2), ...ids(p3)]).toEqual(expected);

    expect((await page({ first: 25 })).pageInfo.hasNextPage).toBe(false);
    expect((await page({ first: 24 })).pageInfo.hasNextPage).toBe(true);
    const empty = await page({ first: 10, after: p3.pageInfo.endCursor });
    expect(empty.edges).toEqual([]);
    expect(empty.pageInfo).toMatchObject({ hasNextPage: false, startCursor: null, endCursor: null });
  });

  it('pages backward with last/before through the same list', async () => {
    const p1 = await page({ last: 10 });
    expect(ids(p1)).toEqual(expected.slice(15));
    expect(p1.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    const p2 = await page({ last: 10, before: p1.pageInfo.startCursor });
    expect(ids(p2)).toEqual(expected.slice(5, 15));
    expect(p2.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    const p3 = await page({ last: 10, before: p2.pageInfo.startCursor });
    expect(ids(p3)).toEqual(expected.slice(0, 5));
    expect(p3.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
  });

  it('resumes either way from any cursor it handed out', async () => {
    const all = await page({ first: 25 });
    const cursor = all.edges[12]!.cursor;
    expect(ids(await page({ first: 3, after: cursor }))).toEqual(expected.slice(13, 16));
    expect(ids(await page({ last: 3, before: cursor }))).toEqual(expected.slice(9, 12));
  });

  it('returns 20 by default and refuses sizes outside 0..100 or mixed directions', async () => {
    const first = await page({});
    expect(ids(first)).toEqual(expected.slice(0, 20));
    expect(first.pageInfo.hasNextPage).toBe(true);
    expect(ids(await page({ first: 100 }))).toEqual(expected);

    const refusals: Array<[Record<string, unknown>, string]> = [
      [{ first: -1 }, 'first'],
      [{ first: 101 }, 'first'],
      [{ last: -1 }, 'last'],
      [{ last: 101 }, 'last'],
    ];
    for (const [args, field] of refusals) {
      expectError(await t.gql(org.adminToken, SERVICES_PAGE, args), 'BAD_USER_INPUT', field);
    }
    expectError(await t.gql(org.adminToken, SERVICES_PAGE, { first: 2, last: 2 }), 'BAD_USER_INPUT');
    const cursor = (await page({ first: 1 })).pageInfo.endCursor;
    expectError(await t.gql(org.adminToken, SERVICES_PAGE, { after: cursor, before: cursor }), 'BAD_USER_INPUT');
  });

  it('refuses a cursor it did not hand out with BAD_USER_INPUT naming the argument', async () => {
    const bad = [
      '',
      'not-a-cursor',
      '%%%',
      base64url('null'),
      base64url('[]'),
      base64url('{"createdAt":"2026-01-01T00:00:00Z"}'),
      base64url('["yesterday","svc_x"]'),
      base64url('["2026-01-01T00:00:00.000Z",42]'),
      base64url('["-200000-01-01T00:00:00.000Z","svc_x"]'),
      base64url('["2026-02-30T00:00:00.000Z","svc_x"]'),
      base64url('["2026-01-01T00:00:00.000Z","svc_\\u0000x"]'),
      base64url(`["2026-01-01T00:00:00.000Z","${'x'.repeat(10_000)}"]`),
    ];
    for (const cursor of bad) {
      expectError(await t.gql(org.adminToken, SERVICES_PAGE, { first: 5, after: cursor }), 'BAD_USER_INPUT', 'after');
      expectError(await t.gql(org.adminToken, SERVICES_PAGE, { last: 5, before: cursor }), 'BAD_USER_INPUT', 'before');
    }
  });
});

describe('createDeployHook', () => {
  let serviceId: string;

  beforeAll(async () => {
    serviceId = await createService(t, t.adminToken, 'hooked');
  });

  it('returns {PUBLIC_URL}/hooks/{serviceId}/{token} with a prefixed token of 32 random bytes, and the URL deploys', async () => {
    const r = await t.gql(t.adminToken, CREATE_HOOK, { input: { serviceId, name: 'GitHub Actions' } });
    const { hook, url, token } = expectNoErrors(r).createDeployHook;
    expect(token).toMatch(/^sbhook_[A-Za-z0-9_-]{43,}$/);
    expect(Buffer.from(token.slice('sbhook_'.length), 'base64url').length).toBeGreaterThanOrEqual(32);
    expect(url).toBe(`${PUBLIC_URL}/hooks/${serviceId}/${token}`);
    expect(hook).toMatchObject({ name: 'GitHub Actions', revokedAt: null, useCount: 0, service: { id: serviceId } });
    expect(token.startsWith(hook.tokenPrefix)).toBe(true);
    expect(hook.tokenPrefix.length).toBeLessThanOrEqual('sbhook_'.length + 8);

    const res = await postHook(url);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ serviceId, status: 'queued', branch: 'main' });

    const other = await createHook(t, t.adminToken, serviceId, 'second');
    expect(other.token).not.toBe(token);
    expect(other.token.slice(0, 15)).not.toBe(token.slice(0, 15));
  });

  it('stores only the SHA-256 of the token', async () => {
    const hook = await createHook(t, t.adminToken, serviceId, 'hashed');
    const secret = hook.token.slice('sbhook_'.length);
    const { rows } = await db.query('select token_hash, row_to_json(deploy_hooks)::text as row from deploy_hooks where id = $1', [hook.id]);
    expect(rows[0].token_hash).toEqual(sha256(hook.token));
    expect(rows[0].row).not.toContain(secret.slice(0, 12));
  });

  it('has no field that hands the token or URL out again', async () => {
    // Both the committed SDL and what the running app serves.
    const live = await fetchLiveSchema(`${t.app.url}/graphql`, t.adminToken);
    for (const [which, s] of [['schema.graphql', schema], ['the running app', live]] as const) {
      const hookFields = Object.keys((s.getType('DeployHook') as GraphQLObjectType).getFields());
      expect(hookFields.filter((f) => /url|secret|hash|^token$/i.test(f)), which).toEqual([]);
      // Only the payloads of the mutations that create a secret carry it.
      const carriers: string[] = [];
      for (const type of Object.values(s.getTypeMap())) {
        if (!isObjectType(type) || type.name.startsWith('__')) continue;
        for (const field of Object.values(type.getFields())) {
          if (/^(url|hookUrl|token|\w+Token|secret\w*|tokenHash)$/.test(field.name) && getNamedType(field.type).name === 'String') carriers.push(`${type.name}.${field.name}`);
        }
      }
      expect(carriers.sort(), which).toEqual([
        'CreateApiTokenPayload.token',
        'CreateDeployHookPayload.token',
        'CreateDeployHookPayload.url',
        'CreateOrganizationPayload.adminToken',
      ]);
    }

    // And nothing reachable through any query field spells it, whatever fields exist.
    const hook = await createHook(t, t.adminToken, serviceId, 'never again');
    const deployment = await (await postHook(hook.url)).json();
    // One request per root field keeps each under the server's cost limit.
    const roots = [
      `query($s: ID!) { service(id: $s) ${selectEverything(live, 'Service', 4)} }`,
      `{ services(first: 2) ${selectEverything(live, 'QueryServicesConnection', 4)} }`,
      `query($d: ID!) { deployment(id: $d) ${selectEverything(live, 'Deployment', 4)} }`,
      `{ deployments(first: 2) ${selectEverything(live, 'QueryDeploymentsConnection', 4)} }`,
      `{ viewer ${selectEverything(live, 'Viewer', 3)} }`,
    ];
    const answers = [];
    for (const query of roots) answers.push(expectNoErrors(await t.gql(t.adminToken, query, { s: serviceId, d: deployment.id })));
    const everything = JSON.stringify(answers);
    expect(everything).toContain(hook.id);
    expect(everything).toContain(deployment.id);
    expect(everything).not.toContain(hook.token.slice('sbhook_'.length, 'sbhook_'.length + 12));
    expect(everything).not.toContain('/hooks/');
  });

  it('refuses a bad name with BAD_USER_INPUT and an unknown service with NOT_FOUND, writing nothing', async () => {
    const before = await count('deploy_hooks');
    for (const name of ['', '  ', 'x'.repeat(101)]) {
      expectError(await t.gql(t.adminToken, CREATE_HOOK, { input: { serviceId, name } }), 'BAD_USER_INPUT', 'name');
    }
    const r = await t.gql(t.adminToken, CREATE_HOOK, { input: { serviceId: 'svc_aaaaaaaaaaaaaaaaaaaaaaaaaa', name: 'ci' } });
    expect(r.data).toBeNull();
    expectError(r, 'NOT_FOUND');
    expect(await count('deploy_hooks')).toBe(before);
  });
});

describe('revokeDeployHook', () => {
  let serviceId: string;
  beforeAll(async () => {
    serviceId = await createService(t, t.adminToken, 'revocable');
  });

  it('sets revokedAt, after which the URL answers 401 while other hooks keep working', async () => {
    const hook = await createHook(t, t.adminToken, serviceId, 'to revoke');
    const kept = await createHook(t, t.adminToken, serviceId, 'kept');
    expect((await postHook(hook.url)).status).toBe(202);

    const { revokeDeployHook } = expectNoErrors(await t.gql(t.adminToken, REVOKE_HOOK, { id: hook.id }));
    expect(revokeDeployHook.hook.id).toBe(hook.id);
    const { rows } = await db.query('select revoked_at from deploy_hooks where id = $1', [hook.id]);
    expect(rows[0].revoked_at).not.toBeNull();
    expect(revokeDeployHook.hook.revokedAt).toBe(rows[0].revoked_at.toISOString());

    const before = await count('deployments', 'service_id = $1', [serviceId]);
    const refused = await postHook(hook.url);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toHaveProperty('error');
    expect(await count('deployments', 'service_id = $1', [serviceId])).toBe(before);
    expect((await postHook(kept.url)).status).toBe(202);

    const listed = expectNoErrors(await t.gql(t.adminToken, 'query($id: ID!) { service(id: $id) { hooks { id revokedAt } } }', { id: serviceId }));
    // Newest first, revoked ones included, and only this service's.
    expect(listed.service.hooks).toEqual([
      { id: kept.id, revokedAt: null },
      { id: hook.id, revokedAt: revokeDeployHook.hook.revokedAt },
    ]);
  });

  it('keeps the first revokedAt when revoked again', async () => {
    const hook = await createHook(t, t.adminToken, serviceId, 'twice');
    const first = expectNoErrors(await t.gql(t.adminToken, REVOKE_HOOK, { id: hook.id })).revokeDeployHook.hook.revokedAt;
    await db.query('select pg_sleep(0.01)'); // so a second now() could not coincide with the first
    const second = expectNoErrors(await t.gql(t.adminToken, REVOKE_HOOK, { id: hook.id })).revokeDeployHook.hook.revokedAt;
    expect(first).not.toBeNull();
    expect(second).toBe(first);
    expect((await postHook(hook.url)).status).toBe(401);
  });

  it('answers NOT_FOUND for an unknown hook', async () => {
    const r = await t.gql(t.adminToken, REVOKE_HOOK, { id: 'hook_aaaaaaaaaaaaaaaaaaaaaaaaaa' });
    expect(r.data).toBeNull();
    expectError(r, 'NOT_FOUND');
  });
});

describe('triggerDeployment', () => {
  let serviceId: string;
  let member: Awaited<ReturnType<typeof mintToken>>;

  beforeAll(async () => {
    const r = await t.gql(t.adminToken, CREATE_SERVICE, { input: { name: 'triggered', repoUrl: 'https://github.com/acme/t', defaultBranch: 'develop' } });
    serviceId = expectNoErrors(r).createService.service.id;
    member = await mintToken(t.adminToken, 'MEMBER', 'release bot');
  });

  it("queues the service's default branch, attributed to the calling API token", async () => {
    const { deployment } = expectNoErrors(await t.gql(member.token, TRIGGER, { input: { serviceId } })).triggerDeployment;
    expect(deployment).toMatchObject({
      status: 'QUEUED',
      branch: 'develop',
      clearCache: false,
      hook: null,
      triggeredBy: { id: member.id, name: 'release bot', role: 'MEMBER' },
      service: { id: serviceId },
      events: [{ sequence: 1, status: 'QUEUED', previousStatus: null }],
    });
    const { rows } = await db.query('select triggered_by_token_id, hook_id, service_id from deployments where id = $1', [deployment.id]);
    expect(rows).toEqual([{ triggered_by_token_id: member.id, hook_id: null, service_id: serviceId }]);
  });

  it('deploys an explicit branch (refs/heads/ stripped) and clearCache', async () => {
    const r = await t.gql(t.adminToken, TRIGGER, { input: { serviceId, branch: 'refs/heads/feature/login', clearCache: true } });
    expect(expectNoErrors(r).triggerDeployment.deployment).toMatchObject({ branch: 'feature/login', clearCache: true });
  });

  it('refuses an invalid branch with BAD_USER_INPUT naming branch, and an unknown service with NOT_FOUND, writing nothing', async () => {
    const before = await count('deployments');
    for (const branch of ['', 'a..b', '-x', 'HEAD', 'x y', 'a@{1}', 'refs/heads/']) {
      const r = await t.gql(member.token, TRIGGER, { input: { serviceId, branch } });
      expect(r.data, branch).toBeNull();
      expectError(r, 'BAD_USER_INPUT', 'branch');
    }
    expectError(await t.gql(member.token, TRIGGER, { input: { serviceId: 'svc_aaaaaaaaaaaaaaaaaaaaaaaaaa' } }), 'NOT_FOUND');
    expect(await count('deployments')).toBe(before);
  });
});

describe('cancelDeployment', () => {
  let serviceId: string;
  let member: Awaited<ReturnType<typeof mintToken>>;

  beforeAll(async () => {
    serviceId = await createService(t, t.adminToken, 'cancellable');
    member = await mintToken(t.adminToken, 'MEMBER', 'canceller');
  });

  const trigger = async () => expectNoErrors(await t.gql(member.token, TRIGGER, { input: { serviceId } })).triggerDeployment.deployment.id as string;

  it('moves a queued deployment to CANCELLED (CANCELLING once its PipelineRun exists), recording the transition', async () => {
    const id = await trigger();
    const { deployment } = expectNoErrors(await t.gql(member.token, CANCEL, { id })).cancelDeployment;
    expect(['CANCELLED', 'CANCELLING']).toContain(deployment.status);
    expect(deployment.events).toEqual([
      { sequence: 1, status: 'QUEUED', previousStatus: null },
      { sequence: 2, status: deployment.status, previousStatus: 'QUEUED' },
    ]);
    const { rows } = await db.query('select status from deployments where id = $1', [id]);
    expect(rows).toEqual([{ status: deployment.status }]);
  });

  it('leaves a finished deployment as it is', async () => {
    const id = await trigger();
    await db.query("update deployments set status = 'SUCCEEDED', finished_at = now() where id = $1", [id]);
    const { deployment } = expectNoErrors(await t.gql(member.token, CANCEL, { id })).cancelDeployment;
    expect(deployment.status).toBe('SUCCEEDED');
    expect(deployment.events).toEqual([{ sequence: 1, status: 'QUEUED', previousStatus: null }]);
  });

  it('answers NOT_FOUND for an unknown deployment', async () => {
    const r = await t.gql(member.token, CANCEL, { id: 'dep-aaaaaaaaaaaaaaaaaaaaaaaaaa' });
    expect(r.data).toBeNull();
    expectError(r, 'NOT_FOUND');
  });
});

describe('deployment and deployments', () => {
  let org: { id: string; adminToken: string };
  let web: string;
  let api: string;
  let hook: { id: string; url: string; token: string };
  const webDeployments: string[] = [];
  const apiDeployments: string[] = [];

  async function newestFirst(serviceId: string | null): Promise<string[]> {
    const { rows } = await db.query(
      'select id from deployments where organization_id = $1 and ($2::text is null or service_id = $2) order by created_at desc, id desc',
      [org.id, serviceId],
    );
    return rows.map((r) => r.id);
  }

  beforeAll(async () => {
    org = await createOrganization(t, 'Deploys');
    web = await createService(t, org.adminToken, 'web');
    api = await createService(t, org.adminToken, 'api');
    hook = await createHook(t, org.adminToken, web, 'ci');
    for (let i = 0; i < 7; i++) webDeployments.push((await (await postHook(hook.url)).json()).id);
    for (let i = 0; i < 2; i++) {
      const r = await t.gql(org.adminToken, TRIGGER, { input: { serviceId: api } });
      apiDeployments.push(expectNoErrors(r).triggerDeployment.deployment.id);
    }
  });

  it('deployment(id) reads a hook deployment with its hook, service and events', async () => {
    const posted = await (await postHook(hook.url, '?branch=release-1&clear_cache=1')).json();
    webDeployments.push(posted.id);
    const q = `query($id: ID!) { deployment(id: $id) {
      id status reason message branch clearCache createdAt updatedAt logs
      service { id name } hook { id name } triggeredBy { id } events { sequence status previousStatus reason at }
    } }`;
    const { deployment } = expectNoErrors(await t.gql(org.adminToken, q, { id: posted.id }));
    expect(deployment).toMatchObject({
      id: posted.id,
      status: 'QUEUED',
      reason: null,
      message: null,
      logs: null,
      branch: 'release-1',
      clearCache: true,
      createdAt: posted.createdAt,
      service: { id: web, name: 'web' },
      hook: { id: hook.id, name: 'ci' },
      triggeredBy: null,
      events: [{ sequence: 1, status: 'QUEUED', previousStatus: null, reason: null, at: expect.any(String) }],
    });
    expect(Date.parse(deployment.updatedAt)).toBeGreaterThanOrEqual(Date.parse(deployment.createdAt));
    expect(expectNoErrors(await t.gql(org.adminToken, q, { id: 'dep-aaaaaaaaaaaaaaaaaaaaaaaaaa' })).deployment).toBeNull();
  });

  it("pages a service's deployments with first/after, newest first, without gaps or repeats", async () => {
    const expected = await newestFirst(web);
    expect(new Set(expected)).toEqual(new Set(webDeployments));
    const seen: string[] = [];
    let after: string | null = null;
    const flags: boolean[][] = [];
    for (;;) {
      const data = expectNoErrors(await t.gql(org.adminToken, DEPLOYMENTS_PAGE, { serviceId: web, first: 3, after }));
      const page = data.deployments as Connection & { edges: Array<{ node: { service: { id: string } } }> };
      expectConsistentPage(page);
      for (const edge of page.edges) expect(edge.node.service.id).toBe(web);
      seen.push(...page.edges.map((e) => e.node.id));
      flags.push([page.pageInfo.hasPreviousPage, page.pageInfo.hasNextPage]);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(expected);
    expect(flags).toEqual([[false, true], [true, true], [true, false]]);

    const last = expectNoErrors(await t.gql(org.adminToken, DEPLOYMENTS_PAGE, { serviceId: web, last: 2 })).deployments;
    expect(last.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual(expected.slice(-2));
  });

  it('Service.deployments lists the same deployments as deployments(serviceId)', async () => {
    const q = 'query($id: ID!) { service(id: $id) { deployments(first: 2) { edges { node { id } } pageInfo { hasNextPage endCursor } } } }';
    const { service } = expectNoErrors(await t.gql(org.adminToken, q, { id: web }));
    expect(service.deployments.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual((await newestFirst(web)).slice(0, 2));
    expect(service.deployments.pageInfo.hasNextPage).toBe(true);
  });

  it("lists the whole organization's deployments without serviceId, and none for an unknown service", async () => {
    const all = expectNoErrors(await t.gql(org.adminToken, DEPLOYMENTS_PAGE, { first: 100 })).deployments;
    expect(all.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual(await newestFirst(null));
    expect(all.edges).toHaveLength(webDeployments.length + apiDeployments.length);
    const none = expectNoErrors(await t.gql(org.adminToken, DEPLOYMENTS_PAGE, { serviceId: 'svc_aaaaaaaaaaaaaaaaaaaaaaaaaa' })).deployments;
    expect(none).toEqual({ edges: [], pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null } });
  });

  it('refuses a cursor it did not hand out', async () => {
    expectError(await t.gql(org.adminToken, DEPLOYMENTS_PAGE, { serviceId: web, after: 'garbage' }), 'BAD_USER_INPUT', 'after');
    const q = 'query($id: ID!) { service(id: $id) { deployments(before: "garbage") { edges { cursor } } } }';
    expectError(await t.gql(org.adminToken, q, { id: web }), 'BAD_USER_INPUT', 'before');
  });
});

describe('apiTokens and revokeApiToken', () => {
  let org: { id: string; adminToken: string };
  let member: Awaited<ReturnType<typeof mintToken>>;
  let viewer: Awaited<ReturnType<typeof mintToken>>;

  beforeAll(async () => {
    org = await createOrganization(t, 'Token keeping');
    member = await mintToken(org.adminToken, 'MEMBER', 'deploy bot');
    viewer = await mintToken(org.adminToken, 'VIEWER', 'dashboard');
  });

  it("lists the organization's tokens to an ADMIN, newest first, without their secrets", async () => {
    const { apiTokens } = expectNoErrors(await t.gql(org.adminToken, API_TOKENS));
    const { rows } = await db.query('select id from api_tokens where organization_id = $1 order by created_at desc, id', [org.id]);
    expect(apiTokens.map((x: { id: string }) => x.id)).toEqual(rows.map((r) => r.id));
    expect(apiTokens.slice(0, 2)).toMatchObject([
      { id: viewer.id, name: 'dashboard', role: 'VIEWER', tokenPrefix: viewer.apiToken.tokenPrefix, revokedAt: null },
      { id: member.id, name: 'deploy bot', role: 'MEMBER', tokenPrefix: member.apiToken.tokenPrefix, revokedAt: null },
    ]);
    const listed = JSON.stringify(apiTokens);
    for (const secret of [org.adminToken, member.token, viewer.token]) expect(listed).not.toContain(secret.slice(10, 30));
  });

  it('refuses the list and revocation to MEMBER and VIEWER tokens, changing nothing', async () => {
    for (const [who, token] of [['MEMBER', member.token], ['VIEWER', viewer.token]]) {
      expectError(await t.gql(token!, API_TOKENS), 'FORBIDDEN');
      expectError(await t.gql(token!, REVOKE_TOKEN, { id: member.id }), 'FORBIDDEN');
      expect(expectNoErrors(await t.gql(member.token, VIEWER)).viewer.role, who).toBe('MEMBER');
    }
    expect(await count('api_tokens', 'organization_id = $1 and revoked_at is not null', [org.id])).toBe(0);
  });

  it('revokes a token at once, keeps the first revocation time, and answers NOT_FOUND for an unknown one', async () => {
    const doomed = await mintToken(org.adminToken, 'MEMBER', 'leaked');
    expect(expectNoErrors(await t.gql(doomed.token, VIEWER)).viewer.role).toBe('MEMBER');
    const first = expectNoErrors(await t.gql(org.adminToken, REVOKE_TOKEN, { id: doomed.id })).revokeApiToken.apiToken;
    expect(first.id).toBe(doomed.id);
    expect(first.revokedAt).not.toBeNull();
    const refused = await t.gql(doomed.token, VIEWER);
    expect(refused.status).toBe(401);
    expectError(refused, 'UNAUTHENTICATED');

    await db.query('select pg_sleep(0.01)'); // so a second now() could not coincide with the first
    const again = expectNoErrors(await t.gql(org.adminToken, REVOKE_TOKEN, { id: doomed.id })).revokeApiToken.apiToken;
    expect(again.revokedAt).toBe(first.revokedAt);
    const { apiTokens } = expectNoErrors(await t.gql(org.adminToken, API_TOKENS));
    expect(apiTokens.find((x: { id: string }) => x.id === doomed.id).revokedAt).toBe(first.revokedAt);
    expect(expectNoErrors(await t.gql(member.token, VIEWER)).viewer.role).toBe('MEMBER');

    const unknown = await t.gql(org.adminToken, REVOKE_TOKEN, { id: 'tok_aaaaaaaaaaaaaaaaaaaaaaaaaa' });
    expect(unknown.data).toBeNull();
    expectError(unknown, 'NOT_FOUND');
  });
});

describe('the platform administrator', () => {
  it("cannot be locked out by an ADMIN of the default organization revoking its token", async () => {
    const ops = await mintToken(t.adminToken, 'ADMIN', 'ops');
    const { rows } = await db.query('select id from api_tokens where token_hash = $1', [sha256(t.adminToken)]);
    try {
      const r = await t.gql(ops.token, REVOKE_TOKEN, { id: rows[0].id });
      expect(r.data).toBeNull();
      expectError(r, 'FORBIDDEN');
      expect(expectNoErrors(await t.gql(t.adminToken, VIEWER)).viewer.platformAdmin).toBe(true);
      // The platform administrator itself may still retire its token (say, after a leak).
      const own = await t.gql(t.adminToken, REVOKE_TOKEN, { id: rows[0].id });
      expect(expectNoErrors(own).revokeApiToken.apiToken.revokedAt).not.toBeNull();
      expect((await t.gql(t.adminToken, VIEWER)).status).toBe(401);
    } finally {
      // Later tests keep their token.
      await db.query('update api_tokens set revoked_at = null where id = $1', [rows[0].id]);
    }
  });
});

describe('createApiToken and roles', () => {
  let org: { id: string; adminToken: string };
  let serviceId: string;
  let hook: { id: string; url: string; token: string };
  let deploymentId: string;
  let member: Awaited<ReturnType<typeof mintToken>>;
  let viewer: Awaited<ReturnType<typeof mintToken>>;

  beforeAll(async () => {
    org = await createOrganization(t, 'Roles');
    serviceId = await createService(t, org.adminToken, 'roles-web');
    hook = await createHook(t, org.adminToken, serviceId);
    deploymentId = (await (await postHook(hook.url)).json()).id;
    member = await mintToken(org.adminToken, 'MEMBER');
    viewer = await mintToken(org.adminToken, 'VIEWER');
  });

  it('creates tokens of each role that work at once, in the same organization, stored only as a hash', async () => {
    for (const role of ['ADMIN', 'MEMBER', 'VIEWER'] as const) {
      const created = await mintToken(org.adminToken, role, `ci ${role}`);
      expect(created.token).toMatch(/^sbapi_[A-Za-z0-9_-]{43}$/);
      expect(created.apiToken).toMatchObject({ name: `ci ${role}`, role });
      expect(created.token.startsWith(created.apiToken.tokenPrefix)).toBe(true);
      expect(created.apiToken.tokenPrefix.length).toBeLessThanOrEqual('sbapi_'.length + 8);
      const { viewer: seen } = expectNoErrors(await t.gql(created.token, VIEWER));
      expect(seen).toEqual({ role, platformAdmin: false, organization: { id: org.id, name: 'Roles' } });
      const { rows } = await db.query('select organization_id, token_hash from api_tokens where id = $1', [created.id]);
      expect(rows).toEqual([{ organization_id: org.id, token_hash: sha256(created.token) }]);
    }
  });

  it('refuses a bad token name with BAD_USER_INPUT', async () => {
    const before = await count('api_tokens');
    expectError(await t.gql(org.adminToken, CREATE_TOKEN, { input: { name: ' ', role: 'VIEWER' } }), 'BAD_USER_INPUT', 'name');
    expect(await count('api_tokens')).toBe(before);
  });

  it('lets a MEMBER create services and hooks, trigger and revoke, but not create tokens or organizations', async () => {
    const created = await t.gql(member.token, CREATE_SERVICE, { input: { name: 'member-made', repoUrl: 'https://github.com/acme/m' } });
    const memberService = expectNoErrors(created).createService.service.id;
    const memberHook = expectNoErrors(await t.gql(member.token, CREATE_HOOK, { input: { serviceId: memberService, name: 'm' } })).createDeployHook;
    expect((await postHook(memberHook.url)).status).toBe(202);
    const triggered = expectNoErrors(await t.gql(member.token, TRIGGER, { input: { serviceId: memberService } })).triggerDeployment.deployment;
    expect(triggered.triggeredBy.id).toBe(member.id);
    expect(expectNoErrors(await t.gql(member.token, REVOKE_HOOK, { id: memberHook.hook.id })).revokeDeployHook.hook.revokedAt).not.toBeNull();

    const tokensBefore = await count('api_tokens');
    const orgsBefore = await count('organizations');
    expectError(await t.gql(member.token, CREATE_TOKEN, { input: { name: 'escalate', role: 'ADMIN' } }), 'FORBIDDEN');
    expectError(await t.gql(member.token, CREATE_TOKEN, { input: { name: 'peer', role: 'VIEWER' } }), 'FORBIDDEN');
    expectError(await t.gql(member.token, CREATE_ORG, { input: { name: 'mine' } }), 'FORBIDDEN');
    expect(await count('api_tokens')).toBe(tokensBefore);
    expect(await count('organizations')).toBe(orgsBefore);
  });

  it('lets a VIEWER run every query but the ADMIN-only token list, and see what an ADMIN sees', async () => {
    // One document per Query field; the schema check below keeps the lists complete.
    const adminOnly: Record<string, string> = { apiTokens: API_TOKENS };
    const queries: Record<string, [string, Record<string, unknown>]> = {
      service: [`query($id: ID!) { service(id: $id) ${selectEverything(schema, 'Service', 2)} }`, { id: serviceId }],
      services: [`{ services ${selectEverything(schema, 'QueryServicesConnection', 3)} }`, {}],
      deployment: [`query($id: ID!) { deployment(id: $id) ${selectEverything(schema, 'Deployment', 2)} }`, { id: deploymentId }],
      deployments: [`query($id: ID) { deployments(serviceId: $id) ${selectEverything(schema, 'QueryDeploymentsConnection', 3)} }`, { id: serviceId }],
      viewer: ['{ viewer { organization { id name } } }', {}],
    };
    expect([...Object.keys(queries), ...Object.keys(adminOnly)].sort()).toEqual(rootFieldNames(schema).Query);
    for (const [field, [query, variables]] of Object.entries(queries)) {
      const asViewer = expectNoErrors(await t.gql(viewer.token, query, variables));
      const asAdmin = expectNoErrors(await t.gql(org.adminToken, query, variables));
      expect(asViewer, field).toEqual(asAdmin);
      expect(JSON.stringify(asViewer), field).toMatch(/"id":"/);
    }
    for (const [field, query] of Object.entries(adminOnly)) {
      const r = await t.gql(viewer.token, query);
      expect(r.data, field).toBeNull();
      expectError(r, 'FORBIDDEN');
      expect(JSON.stringify(expectNoErrors(await t.gql(org.adminToken, query))), field).toMatch(/"id":"/);
    }
  });

  it('refuses every mutation to a VIEWER with FORBIDDEN and changes nothing', async () => {
    const mutations: Record<string, [string, Record<string, unknown>]> = {
      cancelDeployment: [CANCEL, { id: deploymentId }],
      createApiToken: [CREATE_TOKEN, { input: { name: 'nope', role: 'VIEWER' } }],
      createDeployHook: [CREATE_HOOK, { input: { serviceId, name: 'nope' } }],
      createOrganization: [CREATE_ORG, { input: { name: 'nope' } }],
      createService: [CREATE_SERVICE, { input: { name: 'nope', repoUrl: 'https://github.com/acme/nope' } }],
      revokeApiToken: [REVOKE_TOKEN, { id: member.id }],
      revokeDeployHook: [REVOKE_HOOK, { id: hook.id }],
      triggerDeployment: [TRIGGER, { input: { serviceId } }],
    };
    expect(Object.keys(mutations).sort()).toEqual(rootFieldNames(schema).Mutation);
    const before = await snapshotDatabase();
    for (const [field, [mutation, variables]] of Object.entries(mutations)) {
      const r = await t.gql(viewer.token, mutation, variables);
      expect(r.data, field).toBeNull();
      expectError(r, 'FORBIDDEN');
    }
    expect(await snapshotDatabase()).toEqual(before);
    expect((await postHook(hook.url)).status).toBe(202);
  });
});
