import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded.js';
import { PIPELINE_RUN_GROUP, PIPELINE_RUN_PLURAL, PIPELINE_RUN_VERSION } from '../../src/k8s/pipeline-run.js';
import { startChild, type Child } from './child.js';
import { waitFor } from './stats.js';

export interface BenchOptions {
  quick: boolean;
  /** Write CPU profiles of the app processes here (`--profile`). */
  profileDir: string | null;
  /** The app's LOG_LEVEL (`--log-level`, default info as in production). */
  logLevel: string;
}

export interface AppStats {
  memory: NodeJS.MemoryUsage & { handles: number };
  openStreams: number;
  trackedKeys: number;
}

export interface RunningApp {
  url: string;
  adminToken: string;
  databaseUrl: string;
  namespace: string;
  child: Child<{ url: string; pid: number }>;
  stats(gc?: boolean): Promise<AppStats>;
  gql<T = any>(query: string, variables?: Record<string, unknown>, token?: string): Promise<T>;
  stop(): Promise<void>;
}

/**
 * What every scenario shares: one embedded PostgreSQL (a database per scenario) and one local
 * cluster process (a namespace per scenario). Apps and baselines are child processes.
 */
export class BenchEnvironment {
  private postgres: EmbeddedPostgres | null = null;
  private postgresDir: string | null = null;
  private cluster: Child<{ url: string; kubeconfigPath: string }> | null = null;
  private readonly dirs: string[] = [];
  private readonly databases: string[] = [];

  constructor(readonly options: BenchOptions) {}

  get clusterUrl(): string {
    return this.cluster!.ready.url;
  }

  get kubeconfigPath(): string {
    return this.cluster!.ready.kubeconfigPath;
  }

  /** Process trees whose CPU time the figures split: PostgreSQL (postmaster and backends) and the local cluster. */
  cpuRoots(): Record<string, number | undefined> {
    let postgres: number | undefined;
    try {
      postgres = Number(readFileSync(path.join(this.postgresDir!, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      postgres = undefined;
    }
    return { postgres, cluster: this.cluster?.process.pid };
  }

  async start(): Promise<void> {
    const pgDir = await this.tempDir('stackblaze-bench-pg-');
    this.postgres = await startEmbeddedPostgres(pgDir);
    this.postgresDir = path.join(pgDir, 'postgres');
    const clusterDir = await this.tempDir('stackblaze-bench-cluster-');
    this.cluster = await startChild('cluster-process.ts', { env: { DATA_DIR: clusterDir } });
  }

  async stop(): Promise<void> {
    await this.cluster?.stop();
    if (this.postgres) {
      const admin = new pg.Client({ connectionString: this.postgres.connectionString });
      await admin.connect().catch(() => {});
      for (const name of this.databases) await admin.query(`drop database if exists ${name} with (force)`).catch(() => {});
      await admin.end().catch(() => {});
      await this.postgres.stop();
    }
    for (const dir of this.dirs) await rm(dir, { recursive: true, force: true });
  }

  async tempDir(prefix: string): Promise<string> {
    const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
    // The embedded PostgreSQL runs as another user when we are root: it must enter the directory.
    await chmod(dir, 0o755);
    this.dirs.push(dir);
    return dir;
  }

  /** A fresh database on the shared server. */
  async createDatabase(label: string): Promise<string> {
    const name = `bench_${label}_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: this.postgres!.connectionString });
    await admin.connect();
    try {
      await admin.query(`create database ${name}`);
    } finally {
      await admin.end();
    }
    this.databases.push(name);
    const url = new URL(this.postgres!.connectionString);
    url.pathname = `/${name}`;
    return url.toString();
  }

  /** The app in its own process on a fresh database, watching its own namespace of the shared cluster. */
  async startApp(label: string, options: { databaseUrl?: string } = {}): Promise<RunningApp> {
    const databaseUrl = options.databaseUrl ?? (await this.createDatabase(label));
    const adminToken = `sbapi_bench_${randomBytes(16).toString('hex')}`;
    const namespace = `bench-${label.replace(/[^a-z0-9-]/g, '-')}`;
    const dataDir = await this.tempDir('stackblaze-bench-app-');
    const child = await startChild<{ url: string; pid: number }>('app-process.ts', {
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        DATABASE_URL: databaseUrl,
        KUBECONFIG: this.kubeconfigPath,
        BUILD_NAMESPACE: namespace,
        BOOTSTRAP_ADMIN_TOKEN: adminToken,
        HOOK_RATE_LIMIT: '0',
        AUTH_FAILURE_LIMIT: '0',
        LOCAL_TEKTON: 'off',
        // The product's default level: one access-log line per request, to a file here.
        LOG_LEVEL: this.options.logLevel,
      },
      stdoutFile: path.join(dataDir, 'app.log'),
    });
    const url = child.ready.url;
    await child.call('synced', undefined, 30_000);
    const gql = async <T>(query: string, variables?: Record<string, unknown>, token = adminToken): Promise<T> => {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data?: T; errors?: unknown };
      if (body.errors || !body.data) throw new Error(`GraphQL failed: ${JSON.stringify(body.errors)}`);
      return body.data;
    };
    return {
      url,
      adminToken,
      databaseUrl,
      namespace,
      child,
      stats: (gc = true) => child.call<AppStats>('stats', { gc }),
      gql,
      stop: () => child.stop(),
    };
  }

  /** Runs `work` under a CPU profile of the app process when `--profile` was given. */
  async profiled<T>(app: RunningApp, name: string, work: () => Promise<T>): Promise<T> {
    if (!this.options.profileDir) return work();
    await mkdir(this.options.profileDir, { recursive: true });
    await app.child.call('profileStart');
    try {
      return await work();
    } finally {
      await app.child.call('profileStop', { file: path.join(this.options.profileDir, `${name}.cpuprofile`) });
    }
  }

  /** Merge-patches a PipelineRun's status subresource, as Tekton's controller would. */
  async patchStatus(namespace: string, name: string, status: Record<string, unknown>): Promise<number> {
    const res = await fetch(`${this.clusterUrl}${pipelineRunPath(namespace, name)}/status`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ status }),
    });
    await res.arrayBuffer();
    return res.status;
  }

  async pipelineRunExists(namespace: string, name: string): Promise<boolean> {
    const res = await fetch(`${this.clusterUrl}${pipelineRunPath(namespace, name)}`);
    await res.arrayBuffer();
    return res.status === 200;
  }

  async createPipelineRun(namespace: string, manifest: unknown): Promise<number> {
    const res = await fetch(`${this.clusterUrl}${pipelineRunPath(namespace)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(manifest),
    });
    await res.arrayBuffer();
    return res.status;
  }
}

export function pipelineRunPath(namespace: string, name?: string): string {
  return `/apis/${PIPELINE_RUN_GROUP}/${PIPELINE_RUN_VERSION}/namespaces/${namespace}/${PIPELINE_RUN_PLURAL}${name ? `/${name}` : ''}`;
}

/** A service and a deploy hook on it, through the public GraphQL API. */
export async function createServiceAndHook(app: RunningApp, name = 'web'): Promise<{ serviceId: string; hookUrl: string; organizationId: string }> {
  const service = await app.gql<{ createService: { service: { id: string } } }>(
    'mutation($n: String!) { createService(input: {name: $n, repoUrl: "https://github.com/acme/web.git", defaultBranch: "main"}) { service { id } } }',
    { n: name },
  );
  const serviceId = service.createService.service.id;
  const hook = await app.gql<{ createDeployHook: { url: string } }>(
    'mutation($s: ID!) { createDeployHook(input: {serviceId: $s, name: "ci"}) { url } }',
    { s: serviceId },
  );
  const client = new pg.Client({ connectionString: app.databaseUrl });
  await client.connect();
  const { rows } = await client.query<{ organization_id: string }>('select organization_id from services where id = $1', [serviceId]);
  await client.end();
  return { serviceId, hookUrl: hook.createDeployHook.url, organizationId: rows[0]!.organization_id };
}

/** POSTs the hook and returns the new deployment's ID. */
export async function triggerHook(hookUrl: string): Promise<string> {
  const res = await fetch(hookUrl, { method: 'POST' });
  const body = (await res.json()) as { id?: string };
  if (res.status !== 202 || !body.id) throw new Error(`hook answered ${res.status}`);
  return body.id;
}

/** Waits until the dispatcher has created every queued deployment's PipelineRun. */
export async function waitForDispatch(databaseUrl: string, timeoutMs: number): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await waitFor(async () => {
      const { rows } = await client.query<{ n: number }>("select count(*)::int as n from deployments where dispatched_at is null and status = 'QUEUED'");
      return rows[0]!.n === 0;
    }, timeoutMs, 100);
  } finally {
    await client.end();
  }
}
