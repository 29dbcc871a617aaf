import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase } from './database.js';

export interface TestApp {
  app: App;
  /** The bootstrap platform-admin token of the default organization. */
  adminToken: string;
  databaseUrl: string;
  dataDir: string;
  gql<T = any>(token: string | null, query: string, variables?: Record<string, unknown>): Promise<GraphQLResult<T>>;
  stop(): Promise<void>;
}

export interface GraphQLResult<T> {
  status: number;
  data: T | null;
  errors: Array<{ message: string; extensions?: Record<string, unknown> }> | undefined;
}

/** The real app on a fresh database and a free port, reached over real HTTP. */
export async function startTestApp(env: Record<string, string> = {}, databaseUrl?: string): Promise<TestApp> {
  const database = databaseUrl ? null : await createTestDatabase();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'stackblaze-test-'));
  const adminToken = `sbapi_bootstrap_${randomBytes(12).toString('hex')}`;
  const config = loadConfig({
    PORT: '0',
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl ?? database!.url,
    BOOTSTRAP_ADMIN_TOKEN: adminToken,
    HOOK_RATE_LIMIT: '0',
    AUTH_FAILURE_LIMIT: '0',
    ...env,
  });
  const app = await startApp({ config, log: createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
  return {
    app,
    adminToken,
    databaseUrl: config.databaseUrl!,
    dataDir,
    async gql(token, query, variables) {
      const res = await fetch(`${app.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data?: any; errors?: GraphQLResult<unknown>['errors'] };
      return { status: res.status, data: body.data ?? null, errors: body.errors };
    },
    async stop() {
      await app.stop();
      await database?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Creates an organization through the API and returns its admin token. */
export async function createOrganization(t: TestApp, name: string): Promise<{ id: string; adminToken: string }> {
  const r = await t.gql(t.adminToken, 'mutation($name: String!) { createOrganization(input: {name: $name}) { organization { id } adminToken } }', { name });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return { id: r.data.createOrganization.organization.id, adminToken: r.data.createOrganization.adminToken };
}

export async function createService(t: TestApp, token: string, name = 'web'): Promise<string> {
  const r = await t.gql(token, 'mutation($name: String!) { createService(input: {name: $name, repoUrl: "https://github.com/acme/web.git", defaultBranch: "main"}) { service { id } } }', { name });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data.createService.service.id;
}

export async function createHook(t: TestApp, token: string, serviceId: string, name = 'ci'): Promise<{ id: string; url: string; token: string }> {
  const r = await t.gql(token, 'mutation($s: ID!, $n: String!) { createDeployHook(input: {serviceId: $s, name: $n}) { hook { id } url token } }', { s: serviceId, n: name });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return { id: r.data.createDeployHook.hook.id, url: r.data.createDeployHook.url, token: r.data.createDeployHook.token };
}
