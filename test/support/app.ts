import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startApp, type App, type AppTuning } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/logger.js';
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

/** Faster than production so suites stay short; the same code paths. */
export const TEST_TUNING: AppTuning = {
  simulationStepMs: 100,
  dispatchPollMs: 200,
  watchTimeoutSeconds: 30,
  watchSilenceTimeoutMs: 3_000,
  watchConnectTimeoutMs: 3_000,
  watchMaxBackoffMs: 1_000,
  drainTimeoutMs: 2_000,
};

export interface TestAppOptions {
  /** Share a database (two replicas); default: a fresh one. */
  databaseUrl?: string;
  tuning?: AppTuning;
  /** Where the app logs; default: silent (TEST_LOG_LEVEL to see it). */
  log?: Logger;
}

/**
 * The real app on a fresh database and a free port, reached over real HTTP. Without KUBECONFIG in
 * `env` it starts its own local cluster under a temporary DATA_DIR.
 */
export async function startTestApp(env: Record<string, string> = {}, options: TestAppOptions = {}): Promise<TestApp> {
  const databaseUrl = options.databaseUrl;
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
  const app = await startApp({
    config,
    log: options.log ?? createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    tuning: { ...TEST_TUNING, ...options.tuning },
  });
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

/** Polls `probe` until it returns something other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
