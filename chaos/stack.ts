import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db/embedded.js';
import { readLoadRecords, type LoadPlan, type LoadRecord } from './load-records.js';
import { spawnEntry, type ChildHandle } from './processes.js';

export const BUILD_NAMESPACE = 'stackblaze-builds';
export const TERMINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];
/** Statuses only move forward (DESIGN.md section 6); a later event must rank higher. */
export const RANK: Record<string, number> = { QUEUED: 0, RUNNING: 1, CANCELLING: 2, SUCCEEDED: 3, FAILED: 3, CANCELLED: 3, TIMED_OUT: 3 };

/** Where one run of the suite keeps its servers' data and every process's log. */
export interface ChaosRun {
  dir: string;
  postgres: PostgresServer;
  /** Removes everything the run created; the directory is kept when `keep` is set (to read the logs). */
  close(options?: { keep?: boolean }): Promise<void>;
}

/** The PostgreSQL server the scenarios share: each scenario gets a database of its own on it. */
export interface PostgresServer {
  /** A URL for the server's maintenance database. */
  url: string;
  port: number;
  running(): boolean;
  stop(): Promise<void>;
  /** Starts it again, same data and port. */
  start(): Promise<void>;
  createDatabase(prefix: string): Promise<string>;
}

export async function startChaosRun(): Promise<ChaosRun> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'stackblaze-chaos-'));
  // The embedded PostgreSQL runs as the 'postgres' user when started as root: it must reach its directory.
  await chmod(dir, 0o755);
  let embedded: EmbeddedPostgres;
  try {
    embedded = await startEmbeddedPostgres(path.join(dir, 'pg'));
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  let up = true;
  const postgres: PostgresServer = {
    url: embedded.connectionString,
    port: embedded.port,
    running: () => up,
    async stop() {
      up = false;
      await embedded.stop();
    },
    async start() {
      await embedded.start();
      up = true;
    },
    async createDatabase(prefix) {
      const name = `${prefix}_${randomBytes(4).toString('hex')}`;
      await withClient(embedded.connectionString, (client) => client.query(`create database ${name}`));
      const url = new URL(embedded.connectionString);
      url.pathname = `/${name}`;
      return url.toString();
    },
  };
  return {
    dir,
    postgres,
    async close(options = {}) {
      if (up) await embedded.stop().catch(() => {});
      up = false;
      if (!options.keep) await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `probe` until it returns something other than undefined; throws after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// The local cluster, as its own process (`npm run cluster`)

export interface ClusterProcess {
  url: string;
  kubeconfig: string;
  process: ChildHandle;
  /** POST /_local/faults */
  faults(command: Record<string, unknown>): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function startCluster(run: ChaosRun, name: string, tekton: 'simulate' | 'off'): Promise<ClusterProcess> {
  const dataDir = path.join(run.dir, name, 'cluster');
  await mkdir(dataDir, { recursive: true });
  const handle = spawnEntry(`${name} cluster`, 'src/k8s/local-cluster/main.ts', [], { DATA_DIR: dataDir, CLUSTER_PORT: '0', LOCAL_TEKTON: tekton }, path.join(run.dir, name, 'cluster.log'));
  const [, url] = await handle.waitFor(/listening on (http:\/\/\S+)/, 30_000);
  return {
    url: url!,
    kubeconfig: path.join(dataDir, 'kubeconfig'),
    process: handle,
    async faults(command) {
      const res = await fetch(`${url}/_local/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(command) });
      if (res.status !== 200) throw new Error(`faults ${JSON.stringify(command)}: ${res.status} ${await res.text()}`);
      return (await res.json()) as Record<string, unknown>;
    },
    async stop() {
      if (!handle.running()) return;
      handle.child.kill('SIGTERM');
      await Promise.race([handle.exited, sleep(10_000)]);
      await handle.kill();
    },
  };
}

interface PipelineRunItem {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { params?: Array<{ name: string; value: string }> };
  status?: { conditions?: Array<{ type: string; status: string; reason?: string }> };
}

/** Every PipelineRun of this app in the build namespace, read from the cluster's API. */
export async function listPipelineRuns(cluster: ClusterProcess): Promise<PipelineRunItem[]> {
  const items: PipelineRunItem[] = [];
  let token: string | undefined;
  for (let page = 0; page < 1_000; page++) {
    const query = new URLSearchParams({ labelSelector: 'app.kubernetes.io/managed-by=stackblaze-control-plane', limit: '500' });
    if (token) query.set('continue', token);
    const res = await fetch(`${cluster.url}/apis/tekton.dev/v1/namespaces/${BUILD_NAMESPACE}/pipelineruns?${query}`);
    if (res.status !== 200) throw new Error(`listing PipelineRuns: ${res.status}`);
    const list = (await res.json()) as { items: PipelineRunItem[]; metadata?: { continue?: string } };
    items.push(...list.items);
    token = list.metadata?.continue || undefined;
    if (!token) return items;
  }
  throw new Error('listing PipelineRuns: too many pages');
}

/** The status DESIGN.md section 6 maps a finished run to (only what the scenarios need). */
export function terminalStatusOf(run: PipelineRunItem): string | null {
  const condition = run.status?.conditions?.find((c) => c.type === 'Succeeded');
  if (!condition || condition.status === 'Unknown') return null;
  if (condition.status === 'True') return 'SUCCEEDED';
  if (condition.reason === 'Cancelled' || condition.reason === 'PipelineRunCancelled') return 'CANCELLED';
  if (condition.reason === 'PipelineRunTimeout') return 'TIMED_OUT';
  return 'FAILED';
}

// ---------------------------------------------------------------------------------------------
// The app, as its own process (`node --import tsx src/main.ts`)

export interface AppProcess {
  url: string;
  adminToken: string;
  process: ChildHandle;
  /** Starts it again (after a kill) with the same settings and port. */
  restart(): Promise<AppProcess>;
}

export interface AppSettings {
  name: string;
  databaseUrl: string;
  kubeconfig: string;
  port?: number;
  adminToken?: string;
}

export async function startAppProcess(run: ChaosRun, settings: AppSettings): Promise<AppProcess> {
  const port = settings.port ?? (await freePort());
  const adminToken = settings.adminToken ?? `sbapi_chaos_${randomBytes(16).toString('hex')}`;
  const handle = spawnEntry(
    `${settings.name} app`,
    'src/main.ts',
    [],
    {
      DATABASE_URL: settings.databaseUrl,
      KUBECONFIG: settings.kubeconfig,
      PORT: String(port),
      BOOTSTRAP_ADMIN_TOKEN: adminToken,
      HOOK_RATE_LIMIT: '0',
      AUTH_FAILURE_LIMIT: '0',
      DATA_DIR: path.join(run.dir, settings.name, 'app-data'),
    },
    path.join(run.dir, settings.name, 'app.log'),
  );
  try {
    await handle.waitFor(/control plane ready in/, 60_000);
  } catch (error) {
    await handle.kill();
    throw error;
  }
  const app: AppProcess = {
    url: `http://127.0.0.1:${port}`,
    adminToken,
    process: handle,
    restart: () => startAppProcess(run, { ...settings, port, adminToken }),
  };
  return app;
}

export async function gql<T = any>(app: Pick<AppProcess, 'url' | 'adminToken'>, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${app.adminToken}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown };
  if (body.errors || !body.data) throw new Error(`GraphQL: ${res.status} ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** A service and a hook on it: what the load process POSTs to. */
export async function createHookedService(app: AppProcess, name: string): Promise<{ serviceId: string; hookUrl: string }> {
  const created = await gql<{ createService: { service: { id: string } } }>(
    app,
    'mutation($name: String!) { createService(input: {name: $name, repoUrl: "https://github.com/acme/web.git", defaultBranch: "main"}) { service { id } } }',
    { name },
  );
  const serviceId = created.createService.service.id;
  const hook = await gql<{ createDeployHook: { url: string } }>(app, 'mutation($s: ID!) { createDeployHook(input: {serviceId: $s, name: "ci"}) { url } }', { s: serviceId });
  return { serviceId, hookUrl: hook.createDeployHook.url };
}

/** Polls /readyz until it answers 200 (database reachable, watch synced, LISTEN up). */
export async function waitReady(app: AppProcess, timeoutMs: number): Promise<number> {
  const started = Date.now();
  await eventually(async () => ((await fetch(`${app.url}/readyz`)).status === 200 ? true : undefined), timeoutMs, `${app.process.name} to be ready`, 200);
  return Date.now() - started;
}

export async function readiness(app: AppProcess): Promise<Record<string, string> | null> {
  try {
    const res = await fetch(`${app.url}/readyz`, { signal: AbortSignal.timeout(5_000) });
    return ((await res.json()) as { checks: Record<string, string> }).checks;
  } catch {
    return null;
  }
}

/** One unlabelled sample from the app's Prometheus /metrics, or null when it is not there. */
export async function metric(app: AppProcess, name: string): Promise<number | null> {
  try {
    const text = await (await fetch(`${app.url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.slice(name.length + 1)) : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// The database, read directly

export interface DeploymentRow {
  id: string;
  branch: string;
  status: string;
  reason: string | null;
  created_at: Date;
  dispatched_at: Date | null;
  events: Array<{ sequence: number; status: string }>;
}

/**
 * The service's deployments once every one is terminal (and, with `nonEmpty`, there is at least
 * one), or as they are after `timeoutMs`: the caller's checks then say what did not finish.
 */
export async function deploymentsWhenFinished(databaseUrl: string, serviceId: string, timeoutMs: number, what: string, nonEmpty = false): Promise<DeploymentRow[]> {
  try {
    return await eventually(
      async () => {
        const current = await readDeployments(databaseUrl, serviceId);
        return (!nonEmpty || current.length > 0) && current.every((r) => TERMINAL.includes(r.status)) ? current : undefined;
      },
      timeoutMs,
      what,
      500,
    );
  } catch {
    return readDeployments(databaseUrl, serviceId);
  }
}

export async function readDeployments(databaseUrl: string, serviceId: string): Promise<DeploymentRow[]> {
  return withClient(databaseUrl, async (client) => {
    const { rows } = await client.query<DeploymentRow>(
      `select d.id, d.branch, d.status, d.reason, d.created_at, d.dispatched_at,
              coalesce(json_agg(json_build_object('sequence', e.sequence, 'status', e.status) order by e.sequence)
                       filter (where e.sequence is not null), '[]') as events
       from deployments d left join deployment_events e on e.deployment_id = d.id
       where d.service_id = $1 group by d.id`,
      [serviceId],
    );
    return rows;
  });
}

/** What is wrong with a deployment's history: sequences must be 1..n, statuses strictly forward. */
export function historyProblem(row: DeploymentRow): string | null {
  const sequences = row.events.map((e) => e.sequence);
  if (sequences.some((s, i) => s !== i + 1)) return `${row.id}: sequences ${JSON.stringify(sequences)}`;
  for (let i = 1; i < row.events.length; i++) {
    if (RANK[row.events[i]!.status]! <= RANK[row.events[i - 1]!.status]!) {
      return `${row.id}: statuses ${row.events.map((e) => e.status).join(' -> ')}`;
    }
  }
  if (row.events.length === 0) return `${row.id}: no events`;
  if (row.events.at(-1)!.status !== row.status) return `${row.id}: last event ${row.events.at(-1)!.status} but status ${row.status}`;
  return null;
}

// ---------------------------------------------------------------------------------------------
// The load process

export interface LoadProcess {
  process: ChildHandle;
  /** The latest progress line. */
  progress(): { done: number; accepted: number; unavailable: number; errors: number; other: number };
  /** Asks it to start no new call (SIGTERM); those in flight still finish and are recorded. */
  stop(): void;
  /** Resolves when it has finished (or was killed), with everything it recorded. */
  finished(timeoutMs: number): Promise<LoadRecord[]>;
  records(): LoadRecord[];
}

export function startLoad(run: ChaosRun, name: string, plan: Omit<LoadPlan, 'out'>): LoadProcess {
  const out = path.join(run.dir, name, 'load.jsonl');
  const full: LoadPlan = { ...plan, out };
  const handle = spawnEntry(`${name} load`, 'chaos/load.ts', [JSON.stringify(full)], {}, path.join(run.dir, name, 'load.log'));
  let latest = { done: 0, accepted: 0, unavailable: 0, errors: 0, other: 0 };
  handle.onLine((line) => {
    if (line.startsWith('progress ')) latest = JSON.parse(line.slice('progress '.length));
  });
  return {
    process: handle,
    progress: () => latest,
    records: () => readLoadRecords(out),
    stop: () => void (handle.running() && handle.child.kill('SIGTERM')),
    async finished(timeoutMs) {
      const ended = await Promise.race([handle.exited, sleep(timeoutMs).then(() => null)]);
      if (!ended) await handle.kill();
      return readLoadRecords(out);
    },
  };
}

export async function scenarioDir(run: ChaosRun, name: string): Promise<string> {
  const dir = path.join(run.dir, name);
  await mkdir(dir, { recursive: true });
  return dir;
}
