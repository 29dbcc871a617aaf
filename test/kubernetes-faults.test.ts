import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHook, createService, eventually, startTestApp, type TestApp } from './support/app.js';
import { kubectl, requireKubectl } from './support/kubectl.js';

const NS = 'stackblaze-builds';
const TERMINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];
const RANK: Record<string, number> = { QUEUED: 0, RUNNING: 1, CANCELLING: 2, SUCCEEDED: 3, FAILED: 3, CANCELLED: 3, TIMED_OUT: 3 };

interface Row {
  id: string;
  status: string;
  reason: string | null;
  message: string | null;
  dispatch_attempts: number;
  events: Array<{ sequence: number; status: string }>;
}

async function readDeployments(databaseUrl: string, ids: string[]): Promise<Row[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query(
      `select d.id, d.status, d.reason, d.message, d.dispatch_attempts,
              coalesce(json_agg(json_build_object('sequence', e.sequence, 'status', e.status) order by e.sequence) filter (where e.sequence is not null), '[]') as events
       from deployments d left join deployment_events e on e.deployment_id = d.id
       where d.id = any($1) group by d.id`,
      [ids],
    );
    return rows;
  } finally {
    await client.end();
  }
}

async function untilAllTerminal(t: TestApp, ids: string[], timeoutMs: number): Promise<Row[]> {
  return eventually(async () => {
    const rows = await readDeployments(t.databaseUrl, ids);
    return rows.length === ids.length && rows.every((r) => TERMINAL.includes(r.status)) ? rows : undefined;
  }, timeoutMs, 'every deployment to finish');
}

/** Sequences 1..n without gaps or repeats, statuses only moving forward. */
function expectCleanHistory(row: Row): void {
  expect(row.events.map((e) => e.sequence)).toEqual(row.events.map((_, i) => i + 1));
  for (let i = 1; i < row.events.length; i++) {
    expect(RANK[row.events[i]!.status]!, `${row.id}: ${JSON.stringify(row.events)}`).toBeGreaterThan(RANK[row.events[i - 1]!.status]!);
  }
}

async function pipelineRunNames(kubeconfig: string): Promise<string[]> {
  const list = JSON.parse(await kubectl(kubeconfig, '-n', NS, 'get', 'pipelineruns', '-l', 'app.kubernetes.io/managed-by=stackblaze-control-plane', '-o', 'json'));
  return list.items.map((item: { metadata: { name: string } }) => item.metadata.name);
}

beforeAll(requireKubectl);

describe('PipelineRun creates failing for 30 s, then recovering', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ LOCAL_TEKTON: 'simulate' });
  });
  afterAll(async () => t?.stop());

  it('gives every deployment accepted meanwhile exactly one PipelineRun, and each finishes', async () => {
    const hook = await createHook(t, t.adminToken, await createService(t, t.adminToken));
    const faults = t.app.localCluster!.faults;
    faults.failCreates(503);
    const ids: string[] = [];
    const outageStart = Date.now();
    while (Date.now() - outageStart < 30_000) {
      const res = await fetch(hook.url, { method: 'POST' });
      expect(res.status).toBe(202);
      ids.push((await res.json()).id);
      await new Promise((resolve) => setTimeout(resolve, 2_500));
    }
    const during = await readDeployments(t.databaseUrl, ids);
    expect(during.every((r) => r.status === 'QUEUED')).toBe(true);
    expect(Math.max(...during.map((r) => r.dispatch_attempts))).toBeGreaterThan(1);
    faults.clear();

    const rows = await untilAllTerminal(t, ids, 60_000);
    for (const row of rows) {
      expect(row.status).toBe('SUCCEEDED');
      expectCleanHistory(row);
    }
    expect((await pipelineRunNames(t.app.localCluster!.kubeconfigPath)).sort()).toEqual([...ids].sort());
  }, 120_000);
});

describe('PipelineRun creates failing for longer than the dispatcher retries', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ LOCAL_TEKTON: 'simulate' }, { tuning: { dispatchGiveUpAfterMs: 1_500 } });
  });
  afterAll(async () => t?.stop());

  it('fails the deployment with a reason that says why', async () => {
    const hook = await createHook(t, t.adminToken, await createService(t, t.adminToken));
    t.app.localCluster!.faults.failCreates(500);
    const id = (await (await fetch(hook.url, { method: 'POST' })).json()).id;
    const [row] = await untilAllTerminal(t, [id], 15_000);
    expect(row!.status).toBe('FAILED');
    expect(row!.reason).toBe('DispatchFailed');
    expect(row!.message).toMatch(/Kubernetes answered 500/);
    expect(row!.events.map((e) => e.status)).toEqual(['QUEUED', 'FAILED']);
    t.app.localCluster!.faults.clear();
    expect(await pipelineRunNames(t.app.localCluster!.kubeconfigPath)).not.toContain(id);
  });
});

describe('watches dropped, expired and stalled while runs progress', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ LOCAL_TEKTON: 'simulate' }, { tuning: { simulationStepMs: 400, watchSilenceTimeoutMs: 1_500 } });
    await t.app.watcher.whenSynced();
  });
  afterAll(async () => t?.stop());

  it('resumes after a dropped watch without missing a transition', async () => {
    const hook = await createHook(t, t.adminToken, await createService(t, t.adminToken, 'drops'));
    const ids = await Promise.all(Array.from({ length: 4 }, async () => (await (await fetch(hook.url, { method: 'POST' })).json()).id));
    for (let i = 0; i < 6; i++) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      t.app.localCluster!.faults.dropWatches();
    }
    const rows = await untilAllTerminal(t, ids, 20_000);
    for (const row of rows) {
      expect(row.events.map((e) => e.status)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
      expectCleanHistory(row);
    }
  });

  it('relists after 410 and restarts a silent watch: every deployment finishes, nothing repeated', async () => {
    const hook = await createHook(t, t.adminToken, await createService(t, t.adminToken, 'stalls'));
    const faults = t.app.localCluster!.faults;
    const restartsBefore = t.app.watcher.restarts;
    const ids = await Promise.all(Array.from({ length: 4 }, async () => (await (await fetch(hook.url, { method: 'POST' })).json()).id));
    await new Promise((resolve) => setTimeout(resolve, 300));
    faults.expireWatches();
    await new Promise((resolve) => setTimeout(resolve, 300));
    faults.stallWatches();
    // Stalled longer than the watchdog's silence limit: it must restart the watch by itself.
    await eventually(async () => (t.app.watcher.restarts > restartsBefore ? true : undefined), 10_000, 'the watchdog to restart the watch');
    faults.clear();
    const more = await Promise.all(Array.from({ length: 2 }, async () => (await (await fetch(hook.url, { method: 'POST' })).json()).id));
    const rows = await untilAllTerminal(t, [...ids, ...more], 30_000);
    for (const row of rows) {
      expect(row.status).toBe('SUCCEEDED');
      expectCleanHistory(row);
    }
  });
});

describe('the Kubernetes API unavailable for a while', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ LOCAL_TEKTON: 'simulate' });
    await t.app.watcher.whenSynced();
  });
  afterAll(async () => t?.stop());

  it('keeps accepting hooks, reports not ready, and finishes everything once it is back', async () => {
    const hook = await createHook(t, t.adminToken, await createService(t, t.adminToken));
    const faults = t.app.localCluster!.faults;
    faults.setUnavailable(true);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(hook.url, { method: 'POST' });
      expect(res.status).toBe(202);
      ids.push((await res.json()).id);
    }
    const notReady = await eventually(async () => {
      const res = await fetch(`${t.app.url}/readyz`);
      return res.status === 503 ? res.json() : undefined;
    }, 10_000, '/readyz to report the watch down');
    expect(notReady.checks).toMatchObject({ database: 'ok', pipelineRunWatch: 'failing' });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    faults.setUnavailable(false);

    const rows = await untilAllTerminal(t, ids, 30_000);
    for (const row of rows) {
      expect(row.status).toBe('SUCCEEDED');
      expectCleanHistory(row);
    }
    expect((await fetch(`${t.app.url}/readyz`)).status).toBe(200);
    expect((await pipelineRunNames(t.app.localCluster!.kubeconfigPath)).sort()).toEqual([...ids].sort());
  }, 60_000);
});
