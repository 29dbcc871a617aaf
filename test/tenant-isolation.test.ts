import { randomInt } from 'node:crypto';
import { createClient } from 'graphql-ws';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createHook, createOrganization, createService, startTestApp, type GraphQLResult, type TestApp } from './support/app.js';
import { fetchLiveSchema, loadSchemaFile, rootFieldNames, selectEverything, type RootType } from './support/graphql-schema.js';

// Organization B's tokens, of every role, aimed at everything organization A owns: every
// operation must answer exactly as it does for an ID that does not exist, and A must not change.

type Role = 'ADMIN' | 'MEMBER' | 'VIEWER';
const ROLES: Role[] = ['ADMIN', 'MEMBER', 'VIEWER'];

interface Organization {
  id: string;
  tokens: Record<Role, { id: string; token: string }>;
  /** The service that has hooks and deployments. */
  serviceId: string;
  /** Further services, one per role of the other organization, so their names can be reused there. */
  otherServices: Record<Role, { id: string; name: string }>;
  hook: { id: string; url: string; token: string };
  /** A hook of another service, which the first service's hook list must not show. */
  otherHookId: string;
  /** One from a hook call, one from triggerDeployment. */
  deployments: { hooked: string; triggered: string };
}

/** What an aimed operation points at: A's objects, or made-up IDs of the same shape. */
interface Target {
  serviceId: string;
  hookId: string;
  tokenId: string;
  hookedDeploymentId: string;
  triggeredDeploymentId: string;
}

type Outcome = { data: Record<string, unknown> } | { error: string };

/** An operation given an ID of A's: B must get `outcome`, and exactly the same for a made-up ID. */
interface Aimed {
  kind: 'aimed';
  what: string;
  /** Subscriptions run over graphql-ws; everything else over HTTP POST. */
  transport?: 'ws';
  document: string;
  variables: (target: Target) => Record<string, unknown>;
  outcome: (role: Role) => Outcome;
}

/** An operation on B's own data: `check` asserts it stays inside B. */
interface Own {
  kind: 'own';
  what: string;
  check: (role: Role, token: string) => Promise<void>;
}

const schema = loadSchemaFile();
let t: TestApp;
let db: pg.Client;
let a: Organization;
let b: Organization;

const mutationRefused = (role: Role): Outcome => ({ error: role === 'VIEWER' ? 'FORBIDDEN' : 'NOT_FOUND' });
const adminMutationRefused = (role: Role): Outcome => ({ error: role === 'ADMIN' ? 'NOT_FOUND' : 'FORBIDDEN' });
const EMPTY_PAGE = { edges: [], pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null } };
const PAGE_SELECTION = '{ edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }';

function data<T = any>(r: GraphQLResult<T>): T {
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data!;
}

function ids(connection: { edges: Array<{ node: { id: string } }> }): string[] {
  return connection.edges.map((e) => e.node.id);
}

async function idsOf(table: string, organizationId: string): Promise<string[]> {
  const { rows } = await db.query(`select id from ${table} where organization_id = $1 order by created_at desc, id desc`, [organizationId]);
  return rows.map((r) => r.id);
}

/**
 * The matrix: every Query, Mutation and Subscription field of the schema, each with the ways B
 * could reach A through it. Adding an operation to the schema means adding its line here; the
 * first test below fails until then.
 */
const MATRIX: Record<string, Array<Aimed | Own>> = {
  'Query.service': [
    {
      kind: 'aimed',
      what: "A's service",
      document: 'query($id: ID!) { service(id: $id) { id name hooks { id } } }',
      variables: (target) => ({ id: target.serviceId }),
      outcome: () => ({ data: { service: null } }),
    },
    {
      kind: 'own',
      what: "B's service lists only B's hooks and deployments",
      check: async (_role, token) => {
        const q = `query($id: ID!) { service(id: $id) { id hooks { id service { id } } deployments(first: 100) ${PAGE_SELECTION} } }`;
        const { service } = data(await t.gql(token, q, { id: b.serviceId }));
        const { rows: hooks } = await db.query('select id from deploy_hooks where service_id = $1', [b.serviceId]);
        expect(service.hooks.map((h: { id: string }) => h.id).sort()).toEqual(hooks.map((h) => h.id).sort());
        expect(service.hooks.every((h: { service: { id: string } }) => h.service.id === b.serviceId)).toBe(true);
        const { rows: deployments } = await db.query('select id from deployments where service_id = $1', [b.serviceId]);
        expect(ids(service.deployments).sort()).toEqual(deployments.map((d) => d.id).sort());
        expect(ids(service.deployments)).toEqual(expect.arrayContaining([b.deployments.hooked, b.deployments.triggered]));
        expect(service.hooks.map((h: { id: string }) => h.id)).not.toContain(b.otherHookId);
      },
    },
  ],
  'Query.services': [
    {
      kind: 'own',
      what: "B's services only",
      check: async (_role, token) => {
        const { services } = data(await t.gql(token, `{ services(first: 100) ${PAGE_SELECTION} }`));
        expect(ids(services)).toEqual(await idsOf('services', b.id));
        expect(ids(services)).not.toContain(a.serviceId);
      },
    },
  ],
  'Query.deployment': [
    {
      kind: 'aimed',
      what: "A's deployment from a hook call",
      document: 'query($id: ID!) { deployment(id: $id) { id status hook { id } service { id } events { sequence } } }',
      variables: (target) => ({ id: target.hookedDeploymentId }),
      outcome: () => ({ data: { deployment: null } }),
    },
    {
      kind: 'aimed',
      what: "A's deployment from triggerDeployment",
      document: 'query($id: ID!) { deployment(id: $id) { id triggeredBy { id } } }',
      variables: (target) => ({ id: target.triggeredDeploymentId }),
      outcome: () => ({ data: { deployment: null } }),
    },
    {
      kind: 'own',
      what: "B's deployment points at B's hook, service and token",
      check: async (_role, token) => {
        const q = 'query($h: ID!, $t: ID!) { h: deployment(id: $h) { hook { id } service { id } } t: deployment(id: $t) { triggeredBy { id } service { id } } }';
        const r = data(await t.gql(token, q, { h: b.deployments.hooked, t: b.deployments.triggered }));
        expect(r).toEqual({
          h: { hook: { id: b.hook.id }, service: { id: b.serviceId } },
          t: { triggeredBy: { id: b.tokens.ADMIN.id }, service: { id: b.serviceId } },
        });
      },
    },
  ],
  'Query.deployments': [
    {
      kind: 'aimed',
      what: "A's service",
      document: `query($id: ID) { deployments(serviceId: $id, first: 100) ${PAGE_SELECTION} }`,
      variables: (target) => ({ id: target.serviceId }),
      outcome: () => ({ data: { deployments: EMPTY_PAGE } }),
    },
    {
      kind: 'own',
      what: "without serviceId, B's deployments only",
      check: async (_role, token) => {
        const { deployments } = data(await t.gql(token, `{ deployments(first: 100) ${PAGE_SELECTION} }`));
        expect(ids(deployments)).toEqual(await idsOf('deployments', b.id));
        expect(ids(deployments)).not.toContain(a.deployments.hooked);
      },
    },
  ],
  'Query.apiTokens': [
    {
      kind: 'own',
      what: "B's tokens only, to B's ADMIN only",
      check: async (role, token) => {
        const r = await t.gql(token, '{ apiTokens { id } }');
        if (role !== 'ADMIN') return expectOutcome(r, { error: 'FORBIDDEN' });
        const listed = data(r).apiTokens.map((x: { id: string }) => x.id);
        expect(listed.sort()).toEqual((await idsOf('api_tokens', b.id)).sort());
        for (const ofA of Object.values(a.tokens)) expect(listed).not.toContain(ofA.id);
      },
    },
  ],
  'Query.viewer': [
    {
      kind: 'own',
      what: 'B and the role',
      check: async (role, token) => {
        const { viewer } = data(await t.gql(token, '{ viewer { role platformAdmin organization { id name } } }'));
        expect(viewer).toEqual({ role, platformAdmin: false, organization: { id: b.id, name: 'Organization B' } });
      },
    },
  ],
  'Subscription.deploymentStatusChanged': [
    {
      kind: 'aimed',
      transport: 'ws',
      what: "A's deployment from a hook call",
      document: 'subscription($id: ID!) { deploymentStatusChanged(id: $id) { deploymentId sequence status deployment { id } } }',
      variables: (target) => ({ id: target.hookedDeploymentId }),
      outcome: () => ({ error: 'NOT_FOUND' }),
    },
    {
      kind: 'aimed',
      transport: 'ws',
      what: "A's deployment from triggerDeployment, after sequence 0",
      document: 'subscription($id: ID!) { deploymentStatusChanged(id: $id, afterSequence: 0) { deploymentId sequence } }',
      variables: (target) => ({ id: target.triggeredDeploymentId }),
      outcome: () => ({ error: 'NOT_FOUND' }),
    },
    {
      kind: 'own',
      what: "B's deployment streams B's state",
      check: async (_role, token) => {
        const q = 'subscription($id: ID!) { deploymentStatusChanged(id: $id) { deploymentId sequence status deployment { id service { id } } } }';
        const stream = openSubscription(token, q, { id: b.deployments.triggered });
        try {
          await stream.waitFor((received) => received.length >= 1, "B's deployment's current state");
          const { rows } = await db.query('select status, last_sequence from deployments where id = $1', [b.deployments.triggered]);
          expect(stream.received[0]).toEqual({
            data: {
              deploymentStatusChanged: {
                deploymentId: b.deployments.triggered,
                sequence: rows[0].last_sequence,
                status: rows[0].status,
                deployment: { id: b.deployments.triggered, service: { id: b.serviceId } },
              },
            },
          });
        } finally {
          await stream.close();
        }
      },
    },
  ],
  'Subscription.deploymentEvents': [
    {
      kind: 'aimed',
      transport: 'ws',
      what: "A's service",
      document: 'subscription($id: ID!) { deploymentEvents(serviceId: $id) { deploymentId sequence status } }',
      variables: (target) => ({ id: target.serviceId }),
      outcome: () => ({ error: 'NOT_FOUND' }),
    },
    {
      kind: 'own',
      what: "B's service streams B's events and none of A's",
      check: async (_role, token) => {
        const q = 'subscription($id: ID!) { deploymentEvents(serviceId: $id) { deploymentId sequence status deployment { service { id } } } }';
        const stream = openSubscription(token, q, { id: b.serviceId });
        try {
          // B's deployments in progress arrive first: the stream is live from here on.
          await stream.waitFor((received) => received.length >= 1, "B's deployments in progress");
          // A deploys and cancels on its own service first, then B does; B's event arriving means
          // A's, committed and notified earlier, would have arrived by then if it leaked.
          const ofA = await triggerAndCancel(t.adminToken, a.serviceId);
          aActivity.push(ofA);
          const ofB = await triggerAndCancel(b.tokens.ADMIN.token, b.serviceId);
          await stream.waitFor(
            (received) => received.some((r) => eventOf(r)?.deploymentId === ofB && eventOf(r)?.sequence === 2),
            "the cancellation of B's new deployment",
          );
          const { rows } = await db.query('select id from deployments where service_id = $1', [b.serviceId]);
          const ofService = new Set(rows.map((r) => r.id));
          for (const result of stream.received) {
            expect(result.errors, JSON.stringify(result)).toBeUndefined();
            const event = eventOf(result)!;
            expect(ofService.has(event.deploymentId), event.deploymentId).toBe(true);
            expect(event.deployment.service.id).toBe(b.serviceId);
          }
          expect(JSON.stringify(stream.received)).not.toContain(ofA);
        } finally {
          await stream.close();
        }
      },
    },
  ],
  'Mutation.createService': [
    {
      kind: 'own',
      what: "a name A uses lands in B, with no conflict",
      check: async (role, token) => {
        const name = a.otherServices[role].name;
        const r = await t.gql(token, 'mutation($name: String!) { createService(input: {name: $name, repoUrl: "https://github.com/b/x"}) { service { id name } } }', { name });
        if (role === 'VIEWER') return expectOutcome(r, { error: 'FORBIDDEN' });
        const { service } = data(r).createService;
        expect(service.name).toBe(name);
        const { rows } = await db.query('select organization_id from services where id = $1', [service.id]);
        expect(rows).toEqual([{ organization_id: b.id }]);
      },
    },
  ],
  'Mutation.createDeployHook': [
    {
      kind: 'aimed',
      what: "A's service",
      document: 'mutation($id: ID!) { createDeployHook(input: {serviceId: $id, name: "intruder"}) { hook { id } url token } }',
      variables: (target) => ({ id: target.serviceId }),
      outcome: mutationRefused,
    },
  ],
  'Mutation.revokeDeployHook': [
    {
      kind: 'aimed',
      what: "A's hook",
      document: 'mutation($id: ID!) { revokeDeployHook(id: $id) { hook { id revokedAt } } }',
      variables: (target) => ({ id: target.hookId }),
      outcome: mutationRefused,
    },
  ],
  'Mutation.triggerDeployment': [
    {
      kind: 'aimed',
      what: "A's service, default branch",
      document: 'mutation($id: ID!) { triggerDeployment(input: {serviceId: $id}) { deployment { id } } }',
      variables: (target) => ({ id: target.serviceId }),
      outcome: mutationRefused,
    },
    {
      kind: 'aimed',
      what: "A's service, explicit branch and clearCache",
      document: 'mutation($id: ID!) { triggerDeployment(input: {serviceId: $id, branch: "main", clearCache: true}) { deployment { id } } }',
      variables: (target) => ({ id: target.serviceId }),
      outcome: mutationRefused,
    },
  ],
  'Mutation.cancelDeployment': [
    {
      kind: 'aimed',
      what: "A's deployment from a hook call",
      document: 'mutation($id: ID!) { cancelDeployment(id: $id) { deployment { id status } } }',
      variables: (target) => ({ id: target.hookedDeploymentId }),
      outcome: mutationRefused,
    },
    {
      kind: 'aimed',
      what: "A's deployment from triggerDeployment",
      document: 'mutation($id: ID!) { cancelDeployment(id: $id) { deployment { id } } }',
      variables: (target) => ({ id: target.triggeredDeploymentId }),
      outcome: mutationRefused,
    },
  ],
  'Mutation.createApiToken': [
    {
      kind: 'own',
      what: 'the token lands in B',
      check: async (role, token) => {
        const r = await t.gql(token, 'mutation { createApiToken(input: {name: "made by B", role: ADMIN}) { apiToken { id } token } }');
        if (role !== 'ADMIN') return expectOutcome(r, { error: 'FORBIDDEN' });
        const created = data(r).createApiToken;
        const { viewer } = data(await t.gql(created.token, '{ viewer { organization { id } platformAdmin } }'));
        expect(viewer).toEqual({ organization: { id: b.id }, platformAdmin: false });
        const { rows } = await db.query('select organization_id from api_tokens where id = $1', [created.apiToken.id]);
        expect(rows).toEqual([{ organization_id: b.id }]);
      },
    },
  ],
  'Mutation.revokeApiToken': [
    {
      kind: 'aimed',
      what: "A's MEMBER token",
      document: 'mutation($id: ID!) { revokeApiToken(id: $id) { apiToken { id revokedAt } } }',
      variables: (target) => ({ id: target.tokenId }),
      outcome: adminMutationRefused,
    },
  ],
  'Mutation.createOrganization': [
    {
      kind: 'own',
      what: "refused: B's tokens are not the platform administrator",
      check: async (_role, token) => {
        const before = (await db.query('select count(*)::int as n from organizations')).rows[0].n;
        expectOutcome(await t.gql(token, 'mutation { createOrganization(input: {name: "C"}) { adminToken } }'), { error: 'FORBIDDEN' });
        expect((await db.query('select count(*)::int as n from organizations')).rows[0].n).toBe(before);
      },
    },
  ],
};

/** Deployments A makes during the run (to feed B's streams); left out of A's before/after comparison. */
const aActivity: string[] = [];

async function triggerAndCancel(token: string, serviceId: string): Promise<string> {
  const triggered = await t.gql(token, 'mutation($id: ID!) { triggerDeployment(input: {serviceId: $id}) { deployment { id } } }', { id: serviceId });
  const id = data(triggered).triggerDeployment.deployment.id as string;
  data(await t.gql(token, 'mutation($id: ID!) { cancelDeployment(id: $id) { deployment { id } } }', { id }));
  return id;
}

type WsResult = { data?: Record<string, any> | null; errors?: GraphQLResult<unknown>['errors'] };
const eventOf = (r: WsResult) => (r.data ? Object.values(r.data)[0] : undefined) as
  | { deploymentId: string; sequence: number; deployment: { service: { id: string } } }
  | undefined;

/** A graphql-ws subscription with `token`, collecting what arrives; `waitFor` bounds every wait. */
function openSubscription(token: string, query: string, variables: Record<string, unknown>) {
  const client = createClient({
    url: `${t.app.url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  const received: WsResult[] = [];
  let ended = false;
  let failure: unknown = null;
  const unsubscribe = client.subscribe(
    { query, variables },
    {
      next: (result) => void received.push(result as WsResult),
      // Errors the server refuses the operation with arrive as an array; anything else is the socket failing.
      error: (error) => {
        if (Array.isArray(error)) received.push({ errors: error });
        else failure = error;
        ended = true;
      },
      complete: () => void (ended = true),
    },
  );
  return {
    received,
    /** Until `condition` holds; with `untilEnd`, also until the server ends the operation. */
    async waitFor(condition: (received: WsResult[]) => boolean, what: string, untilEnd = false) {
      const deadline = Date.now() + 10_000;
      while (!(untilEnd ? ended || condition(received) : condition(received))) {
        if (failure) throw new Error(`subscription failed while waiting for ${what}: ${String(failure)}`);
        if (ended && !untilEnd) throw new Error(`subscription ended before ${what}: ${JSON.stringify(received)}`);
        if (Date.now() > deadline) throw new Error(`no ${what} over graphql-ws: ${JSON.stringify(received)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async close() {
      unsubscribe();
      await client.dispose();
    },
  };
}

/** Runs a subscription that must end on its own (refused): its single answer, shaped like an HTTP one. */
async function subscriptionAnswer(token: string, query: string, variables: Record<string, unknown>): Promise<GraphQLResult<unknown>> {
  const stream = openSubscription(token, query, variables);
  try {
    // A stream that delivers data has leaked already: no need to wait for its end.
    await stream.waitFor((received) => received.some((r) => r.data), 'the end of a refused subscription', true);
  } finally {
    await stream.close();
  }
  expect(stream.received, JSON.stringify(stream.received)).toHaveLength(1);
  const [only] = stream.received;
  return { status: 0, data: only!.data ?? null, errors: only!.errors };
}

function expectOutcome(r: GraphQLResult<unknown>, outcome: Outcome): void {
  if ('error' in outcome) {
    expect(r.data).toBeNull();
    expect(r.errors, JSON.stringify(r)).toHaveLength(1);
    expect(r.errors![0]!.extensions?.code, r.errors![0]!.message).toBe(outcome.error);
  } else {
    expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    expect(r.data).toEqual(outcome.data);
  }
}

/** An ID shaped like `real` (same prefix, length and alphabet) that names nothing. */
function madeUp(real: string): string {
  const prefix = /^[a-z]+[_-]/.exec(real)![0];
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return prefix + Array.from({ length: real.length - prefix.length }, () => alphabet[randomInt(alphabet.length)]).join('');
}

/**
 * Every row of A's, except what authentication and the build machinery update by themselves and
 * the deployments A itself makes during the run.
 */
async function snapshotOrganization(organizationId: string) {
  const queries = {
    organizations: 'select * from organizations where id = $1',
    api_tokens: 'select id, name, role, platform_admin, token_hash, token_prefix, created_at, revoked_at from api_tokens where organization_id = $1 order by id',
    services: 'select * from services where organization_id = $1 order by id',
    deploy_hooks: 'select * from deploy_hooks where organization_id = $1 order by id',
    deployments: `select id, service_id, hook_id, triggered_by_token_id, branch, clear_cache, idempotency_key, created_at from deployments
                  where organization_id = $1 and id <> all($2) order by id`,
    cancellations: `select e.deployment_id, e.sequence from deployment_events e join deployments d on d.id = e.deployment_id
                    where d.organization_id = $1 and d.id <> all($2) and e.status in ('CANCELLING', 'CANCELLED') order by 1, 2`,
  };
  const snapshot: Record<string, unknown[]> = {};
  for (const [name, query] of Object.entries(queries)) {
    const params = query.includes('$2') ? [organizationId, aActivity] : [organizationId];
    snapshot[name] = (await db.query(query, params)).rows;
  }
  return snapshot;
}

async function populate(adminToken: string, organizationId: string, prefix: string): Promise<Organization> {
  const mint = async (role: Role) => {
    const r = await t.gql(adminToken, 'mutation($role: Role!) { createApiToken(input: {name: "t", role: $role}) { apiToken { id } token } }', { role });
    const { apiToken, token } = data(r).createApiToken;
    return { id: apiToken.id as string, token: token as string };
  };
  const { rows } = await db.query('select id from api_tokens where organization_id = $1 and role = $2 order by created_at limit 1', [organizationId, 'ADMIN']);
  const tokens = { ADMIN: { id: rows[0].id as string, token: adminToken }, MEMBER: await mint('MEMBER'), VIEWER: await mint('VIEWER') };
  // Both organizations use the name "web": service names are unique per organization only.
  const serviceId = await createService(t, adminToken, 'web');
  const otherServices = {} as Organization['otherServices'];
  for (const role of ROLES) {
    const name = `${prefix}-${role.toLowerCase()}`;
    otherServices[role] = { id: await createService(t, adminToken, name), name };
  }
  const hook = await createHook(t, adminToken, serviceId);
  const otherHook = await createHook(t, adminToken, otherServices.VIEWER.id, 'other');
  const posted = await fetch(hook.url, { method: 'POST' });
  expect(posted.status).toBe(202);
  const triggered = await t.gql(adminToken, 'mutation($id: ID!) { triggerDeployment(input: {serviceId: $id}) { deployment { id } } }', { id: serviceId });
  return {
    id: organizationId,
    tokens,
    serviceId,
    otherServices,
    hook,
    otherHookId: otherHook.id,
    deployments: { hooked: (await posted.json()).id, triggered: data(triggered).triggerDeployment.deployment.id },
  };
}

beforeAll(async () => {
  t = await startTestApp({ LOCAL_TEKTON: 'off' });
  db = new pg.Client({ connectionString: t.databaseUrl });
  await db.connect();
  const defaultOrganization = data(await t.gql(t.adminToken, '{ viewer { organization { id } } }')).viewer.organization.id;
  a = await populate(t.adminToken, defaultOrganization, 'shop');
  const created = await createOrganization(t, 'Organization B');
  b = await populate(created.adminToken, created.id, 'b');
});

afterAll(async () => {
  await db?.end();
  await t?.stop();
});

describe('the matrix', () => {
  it('lists every Query, Mutation and Subscription field of schema.graphql, and of the running app', async () => {
    const fields = rootFieldNames(schema);
    const inSchema = (Object.keys(fields) as RootType[]).flatMap((root) => fields[root]!.map((f) => `${root}.${f}`)).sort();
    expect(Object.keys(MATRIX).sort()).toEqual(inSchema);
    for (const [operation, rows] of Object.entries(MATRIX)) expect(rows.length, operation).toBeGreaterThan(0);

    const live = data(
      await t.gql(t.adminToken, '{ __schema { queryType { fields { name } } mutationType { fields { name } } subscriptionType { fields { name } } } }'),
    ).__schema;
    const liveFields = [
      ...live.queryType.fields.map((f: { name: string }) => `Query.${f.name}`),
      ...(live.mutationType?.fields ?? []).map((f: { name: string }) => `Mutation.${f.name}`),
      ...(live.subscriptionType?.fields ?? []).map((f: { name: string }) => `Subscription.${f.name}`),
    ].sort();
    expect(liveFields).toEqual(inSchema);
  });
});

describe.each(ROLES)("organization B's %s token", (role) => {
  let before: Awaited<ReturnType<typeof snapshotOrganization>>;
  beforeAll(async () => {
    before = await snapshotOrganization(a.id);
  });

  for (const [operation, rows] of Object.entries(MATRIX)) {
    for (const row of rows) {
      if (row.kind === 'own') {
        it(`${operation}: ${row.what}`, () => row.check(role, b.tokens[role].token));
        continue;
      }
      it(`${operation} on ${row.what} answers as for an ID that does not exist`, async () => {
        const token = b.tokens[role].token;
        const target: Target = {
          serviceId: a.serviceId,
          hookId: a.hook.id,
          tokenId: a.tokens.MEMBER.id,
          hookedDeploymentId: a.deployments.hooked,
          triggeredDeploymentId: a.deployments.triggered,
        };
        const nowhere: Target = {
          serviceId: madeUp(a.serviceId),
          hookId: madeUp(a.hook.id),
          tokenId: madeUp(a.tokens.MEMBER.id),
          hookedDeploymentId: madeUp(a.deployments.hooked),
          triggeredDeploymentId: madeUp(a.deployments.triggered),
        };
        const run = row.transport === 'ws' ? subscriptionAnswer : t.gql;
        const againstA = await run(token, row.document, row.variables(target));
        const againstNothing = await run(token, row.document, row.variables(nowhere));
        expectOutcome(againstA, row.outcome(role));
        expect(againstA).toEqual(againstNothing);
      });
    }
  }

  it("reaches nothing of A's through any field of any query", async () => {
    // Built from what the running app serves, so a field added later is walked too.
    const live = await fetchLiveSchema(`${t.app.url}/graphql`, b.tokens[role].token);
    // One request per root field, with pages of 10 (B has fewer than that of each, as hasNextPage
    // confirms), keeps each request under the server's cost limit.
    const services = data(await t.gql(b.tokens[role].token, `{ services(first: 10) ${selectEverything(live, 'QueryServicesConnection', 4)} }`));
    const deployments = data(await t.gql(b.tokens[role].token, `{ deployments(first: 10) ${selectEverything(live, 'QueryDeploymentsConnection', 4)} }`));
    const viewer = data(await t.gql(b.tokens[role].token, `{ viewer ${selectEverything(live, 'Viewer', 3)} }`));
    const answer = { ...services, ...deployments, ...viewer };
    expect([answer.services.pageInfo.hasNextPage, answer.deployments.pageInfo.hasNextPage]).toEqual([false, false]);
    const everything = JSON.stringify(answer);
    for (const own of [b.id, b.serviceId, b.hook.id, b.otherHookId, b.deployments.hooked, b.deployments.triggered, b.tokens.ADMIN.id]) {
      expect(everything).toContain(own);
    }
    const aIds = [a.id, a.serviceId, a.hook.id, a.otherHookId, a.deployments.hooked, a.deployments.triggered, ...Object.values(a.tokens).map((x) => x.id)];
    for (const service of Object.values(a.otherServices)) aIds.push(service.id);
    for (const id of aIds) expect(everything).not.toContain(id);
  });

  it("left A's data as it was: A's hook still deploys and A's tokens still work", async () => {
    expect(await snapshotOrganization(a.id)).toEqual(before);
    for (const [aRole, { token }] of Object.entries(a.tokens)) {
      expect(data(await t.gql(token, '{ viewer { role } }')).viewer.role).toBe(aRole);
    }
    const { rows } = await db.query('select revoked_at from deploy_hooks where id = $1', [a.hook.id]);
    expect(rows).toEqual([{ revoked_at: null }]);
    const res = await fetch(a.hook.url, { method: 'POST' });
    expect(res.status).toBe(202);
    expect((await res.json()).serviceId).toBe(a.serviceId);
  });
});

describe('hook URLs across organizations', () => {
  it("answers 401 for B's hook token under A's service exactly as under a made-up service", async () => {
    const base = t.app.url;
    const before = (await db.query('select count(*)::int as n from deployments')).rows[0].n;
    const underA = await fetch(`${base}/hooks/${a.serviceId}/${b.hook.token}`, { method: 'POST' });
    const underNothing = await fetch(`${base}/hooks/${madeUp(a.serviceId)}/${b.hook.token}`, { method: 'POST' });
    expect(underA.status).toBe(401);
    expect([underA.status, await underA.text()]).toEqual([underNothing.status, await underNothing.text()]);
    expect((await db.query('select count(*)::int as n from deployments')).rows[0].n).toBe(before);
  });

  it("answers 404 for A's deployment through B's status URL exactly as for a made-up deployment", async () => {
    const ofA = await fetch(`${b.hook.url}/deployments/${a.deployments.hooked}`);
    const ofNothing = await fetch(`${b.hook.url}/deployments/${madeUp(a.deployments.hooked)}`);
    expect(ofA.status).toBe(404);
    expect([ofA.status, await ofA.text()]).toEqual([ofNothing.status, await ofNothing.text()]);
    const own = await fetch(`${b.hook.url}/deployments/${b.deployments.hooked}`);
    expect(own.status).toBe(200);
  });
});
