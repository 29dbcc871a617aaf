import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHook, createService, eventually, startTestApp, type TestApp } from './support/app.js';
import { kubectl, requireKubectl } from './support/kubectl.js';

const NS = 'stackblaze-builds';
const DEPLOYMENT = `query($id: ID!) { deployment(id: $id) { id status reason message startedAt finishedAt events { sequence status previousStatus reason } logs } }`;

async function deploymentOf(t: TestApp, id: string) {
  const r = await t.gql(t.adminToken, DEPLOYMENT, { id });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data.deployment;
}

async function untilStatus(t: TestApp, id: string, statuses: string[], timeoutMs = 10_000) {
  return eventually(async () => {
    const d = await deploymentOf(t, id);
    return statuses.includes(d.status) ? d : undefined;
  }, timeoutMs, `deployment ${id} to reach ${statuses.join('/')}`);
}

async function trigger(hookUrl: string, query = ''): Promise<string> {
  const res = await fetch(hookUrl + query, { method: 'POST' });
  expect(res.status).toBe(202);
  return (await res.json()).id;
}

beforeAll(requireKubectl);

describe('with the simulated Tekton controller', () => {
  let t: TestApp;
  let hook: { url: string };
  let kubeconfig: string;

  beforeAll(async () => {
    t = await startTestApp({ LOCAL_TEKTON: 'simulate' });
    kubeconfig = t.app.localCluster!.kubeconfigPath;
    hook = await createHook(t, t.adminToken, await createService(t, t.adminToken));
    await t.app.watcher.whenSynced();
  });
  afterAll(async () => t?.stop());

  it('creates the PipelineRun named after the deployment within a second, as kubectl sees it', async () => {
    const started = Date.now();
    const id = await trigger(hook.url, '?branch=release/2&clear_cache=true');
    const run = await eventually(async () => JSON.parse(await kubectl(kubeconfig, '-n', NS, 'get', 'pipelinerun', id, '-o', 'json')), 5_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(run.metadata.name).toBe(id);
    expect(run.metadata.labels['stackblaze.dev/deployment']).toBe(id);
    const params = Object.fromEntries(run.spec.params.map((p: { name: string; value: string }) => [p.name, p.value]));
    expect(params).toMatchObject({ revision: 'release/2', 'clear-cache': 'true', 'repo-url': 'https://github.com/acme/web.git' });
  });

  it('follows QUEUED → RUNNING → SUCCEEDED with increasing sequences and non-empty logs', async () => {
    const id = await trigger(hook.url);
    const done = await untilStatus(t, id, ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT']);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.reason).toBe('Succeeded');
    expect(done.events.map((e: { status: string }) => e.status)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
    expect(done.events.map((e: { sequence: number }) => e.sequence)).toEqual([1, 2, 3]);
    expect(done.events.map((e: { previousStatus: string | null }) => e.previousStatus)).toEqual([null, 'QUEUED', 'RUNNING']);
    expect(new Date(done.finishedAt).getTime()).toBeGreaterThanOrEqual(new Date(done.startedAt).getTime());
    const lines = done.logs.split('\n');
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(line).toMatch(/^\[[a-z0-9-]+\/[a-z0-9-]+\] /);
    // Pipeline order: the first task's lines come before the last task's.
    const tasks = [...new Set(lines.map((l: string) => l.slice(1, l.indexOf('/'))))];
    expect(tasks.length).toBeGreaterThan(1);
  });

  it('reads the logs of a run in progress: steps still waiting to start have no lines yet, and no read fails', async () => {
    const id = await trigger(hook.url);
    const whileRunning: string[] = [];
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
      const r = await t.gql(t.adminToken, 'query($id: ID!) { deployment(id: $id) { status logs } }', { id });
      expect(r.errors).toBeUndefined();
      const { status, logs } = r.data.deployment;
      if (status === 'RUNNING' && logs !== null) whileRunning.push(logs);
      if (status === 'SUCCEEDED') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(whileRunning.length).toBeGreaterThan(0);
    const final = (await deploymentOf(t, id)).logs as string;
    // Mid-run, a log is what the final log starts with, shorter: the later steps had not run yet.
    expect(whileRunning.some((logs) => logs.split('\n').length < final.split('\n').length)).toBe(true);
  });

  it('ends a run chosen to fail as FAILED with Tekton’s reason and message', async () => {
    const id = await trigger(hook.url, '?branch=simulate/fail');
    const done = await untilStatus(t, id, ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT']);
    expect(done.status).toBe('FAILED');
    expect(done.reason).toBe('Failed');
    expect(done.message).toMatch(/Failed: 1/);
    const timeout = await untilStatus(t, await trigger(hook.url, '?branch=simulate/timeout'), ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT']);
    expect(timeout.status).toBe('TIMED_OUT');
    expect(timeout.reason).toBe('PipelineRunTimeout');
  });

  it('cancels a running deployment: CANCELLING, then CANCELLED as Tekton reports it', async () => {
    const id = await trigger(hook.url);
    await untilStatus(t, id, ['RUNNING']);
    const r = await t.gql(t.adminToken, 'mutation($id: ID!) { cancelDeployment(id: $id) { deployment { id status } } }', { id });
    expect(r.data.cancelDeployment.deployment.status).toBe('CANCELLING');
    const run = JSON.parse(await kubectl(kubeconfig, '-n', NS, 'get', 'pipelinerun', id, '-o', 'json'));
    expect(run.spec.status).toBe('Cancelled');
    const done = await untilStatus(t, id, ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT']);
    expect(done.status).toBe('CANCELLED');
    expect(done.events.map((e: { status: string }) => e.status)).toEqual(['QUEUED', 'RUNNING', 'CANCELLING', 'CANCELLED']);
  });

  it('cancels a deployment not yet dispatched without ever creating its PipelineRun', async () => {
    t.app.localCluster!.faults.failCreates(503);
    try {
      const id = await trigger(hook.url);
      const r = await t.gql(t.adminToken, 'mutation($id: ID!) { cancelDeployment(id: $id) { deployment { id status reason } } }', { id });
      expect(r.data.cancelDeployment.deployment.status).toBe('CANCELLED');
      t.app.localCluster!.faults.clear();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await expect(kubectl(kubeconfig, '-n', NS, 'get', 'pipelinerun', id)).rejects.toThrow(/NotFound|not found/);
      expect((await deploymentOf(t, id)).status).toBe('CANCELLED');
    } finally {
      t.app.localCluster!.faults.clear();
    }
  });

  it('leaves a finished deployment as it is when asked to cancel it', async () => {
    const id = await trigger(hook.url);
    const done = await untilStatus(t, id, ['SUCCEEDED']);
    const r = await t.gql(t.adminToken, 'mutation($id: ID!) { cancelDeployment(id: $id) { deployment { id status } } }', { id });
    expect(r.data.cancelDeployment.deployment.status).toBe('SUCCEEDED');
    expect((await deploymentOf(t, id)).events).toEqual(done.events);
  });
});

describe('with LOCAL_TEKTON=off, status set from outside with kubectl', () => {
  let t: TestApp;
  let hook: { url: string };
  let kubeconfig: string;
  const FIXTURES = new URL('../../shared/fixtures/tekton/', import.meta.url);
  const readme = readFileSync(new URL('README.md', FIXTURES), 'utf8');
  const cases = [...readme.matchAll(/^\| (case-[\w-]+\.json) \|.*\| ([A-Z_]+) \|$/gm)].map((m) => ({ file: m[1]!, expected: m[2]! }));

  beforeAll(async () => {
    t = await startTestApp({ LOCAL_TEKTON: 'off' });
    kubeconfig = t.app.localCluster!.kubeconfigPath;
    hook = await createHook(t, t.adminToken, await createService(t, t.adminToken));
    await t.app.watcher.whenSynced();
  });
  afterAll(async () => t?.stop());

  async function dispatched(): Promise<string> {
    const id = await trigger(hook.url);
    await eventually(async () => (await kubectl(kubeconfig, '-n', NS, 'get', 'pipelinerun', id, '-o', 'name')).trim() || undefined, 5_000);
    return id;
  }

  it.each(cases)('$file patched onto a PipelineRun gives $expected', async ({ file, expected }) => {
    const fixture = JSON.parse(readFileSync(new URL(file, FIXTURES), 'utf8'));
    const id = await dispatched();
    if (fixture.spec?.status) {
      await kubectl(kubeconfig, '-n', NS, 'patch', 'pipelinerun', id, '--type=merge', '-p', JSON.stringify({ spec: { status: fixture.spec.status } }));
    }
    // A status patch with no status to set still proves the watch saw a newer version.
    await kubectl(kubeconfig, '-n', NS, 'patch', 'pipelinerun', id, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: fixture.status ?? { observedGeneration: 1 } }));
    if (expected === 'QUEUED') {
      // Nothing to wait for: prove the watch is live by moving it on afterwards.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await deploymentOf(t, id)).status).toBe('QUEUED');
      return;
    }
    const d = await untilStatus(t, id, [expected]);
    const condition = fixture.status.conditions.find((c: { type: string }) => c.type === 'Succeeded');
    expect(d.reason).toBe(condition.reason);
    expect(d.message).toBe(condition.message ?? null);
  });

  it('never moves a terminal deployment back', async () => {
    const id = await dispatched();
    const set = (status: string, reason: string) =>
      kubectl(kubeconfig, '-n', NS, 'patch', 'pipelinerun', id, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { conditions: [{ type: 'Succeeded', status, reason }] } }));
    await set('False', 'Failed');
    await untilStatus(t, id, ['FAILED']);
    await set('Unknown', 'Running');
    await set('True', 'Succeeded');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const d = await deploymentOf(t, id);
    expect(d.status).toBe('FAILED');
    expect(d.events.map((e: { status: string }) => e.status)).toEqual(['QUEUED', 'FAILED']);
  });

  it('fails a deployment whose PipelineRun is deleted before it finishes', async () => {
    const id = await dispatched();
    await kubectl(kubeconfig, '-n', NS, 'delete', 'pipelinerun', id);
    const d = await untilStatus(t, id, ['FAILED']);
    expect(d.reason).toBe('PipelineRunDeleted');
    expect(d.message).toMatch(/deleted/);
  });
});
